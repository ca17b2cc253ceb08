"""A real local Ray head with the Jobs API, for the tests and the execution benchmark.

``ray start --head`` runs from the current interpreter's environment with a fresh temp dir (so no stale
``ray_current_cluster`` file from an earlier head is read), free GCS, dashboard and agent ports,
bound to 127.0.0.1.  The dashboard is on because the Jobs API lives there; :func:`running_head` yields
only once the Jobs API takes a job.  The head advertises logical GPUs and one
custom resource ``cluster:<id>`` per demo cluster, so one head stands in for several clusters.  Job
entrypoints find this interpreter's ``python`` first on their PATH and this checkout on PYTHONPATH, standing
in for a cluster image with Allmende installed.

Token authentication is off (``RAY_AUTH_MODE=disabled``, also set for this process while the head
lives), so the head neither reads nor writes the shared ``~/.ray/auth_token`` of other sessions.

Stopping stops exactly this head.  ``ray stop`` would stop every Ray process on the machine, other
sessions' included, so ``ray start`` runs in a new session whose process group holds every daemon it
starts: the group gets SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scheduler.execution.local_head import launch

START_TIMEOUT_S = 180
DEMO_CLUSTERS = {"de-01": 8, "fr-01": 8}
REPO = Path(__file__).resolve().parents[1]


class RayUnavailable(RuntimeError):
    """Ray is not installed next to this interpreter."""


@dataclass(frozen=True)
class RayHead:
    """Where a running head answers: the GCS ``address`` (for ``ray.init``) and the Jobs API ``dashboard_url``."""

    address: str
    dashboard_url: str
    num_gpus: int
    clusters: Mapping[str, int]


def ray_executable() -> Path:
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        raise RayUnavailable("ray is not installed in this environment (pip install 'allmende[ray]')")
    return ray


@contextmanager
def running_head(num_gpus: int = 4, num_cpus: int = 2,
                 clusters: Mapping[str, int] = DEMO_CLUSTERS) -> Iterator[RayHead]:
    """Start a head (:func:`scheduler.execution.local_head.launch`), yield it once its Jobs API takes jobs, stop it.

    ``clusters`` maps a cluster id to the amount of its ``cluster:<id>`` resource.
    """
    ray_executable()
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        started = launch({f"cluster:{c}": n for c, n in clusters.items()}, num_gpus, cpus=num_cpus,
                         env=_cluster_image(), timeout=START_TIMEOUT_S)
        try:
            yield RayHead(address=started.address, dashboard_url=started.dashboard_url, num_gpus=num_gpus,
                          clusters=dict(clusters))
        finally:
            started.stop()  # its process group and its temp dir
    finally:
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _cluster_image() -> dict[str, str]:
    """PYTHONPATH for the head (and so for every job): this checkout; ``launch`` puts this venv's ``python`` first."""
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
