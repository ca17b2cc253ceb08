"""A real local Ray head with the Jobs API, for the tests and the execution benchmark.

``ray start --head`` runs from the current interpreter's environment with a fresh temp dir (so no stale
``ray_current_cluster`` file from an earlier head is read), a free GCS port and a free dashboard port,
bound to 127.0.0.1.  The dashboard is on because the Jobs API lives there; :func:`running_head` yields
only once ``JobSubmissionClient(url).list_jobs()`` answers.  The head advertises logical GPUs and one
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

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scheduler.execution.local_head import LocalHead, wait_until_accepting
from support.ports import free_port

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
    """Start a head, wait until its Jobs API answers, yield it, stop it.

    ``clusters`` maps a cluster id to the amount of its ``cluster:<id>`` resource.
    """
    ray = ray_executable()
    temp = tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port, dashboard_port = free_port(), free_port()
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    resources = json.dumps({f"cluster:{c}": n for c, n in clusters.items()})
    cmd = [str(ray), "start", "--head", "--num-gpus", str(num_gpus), "--num-cpus", str(num_cpus),
           "--resources", resources, "--temp-dir", temp, "--port", str(port), "--node-ip-address", "127.0.0.1",
           "--include-dashboard=true", "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard_port),
           "--disable-usage-stats"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | {"RAY_USAGE_STATS_ENABLED": "0"} | _cluster_image())
    try:
        out, _ = proc.communicate(timeout=START_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed ({proc.returncode}):\n{out.decode(errors='replace')[-3000:]}")
        head = RayHead(address=f"127.0.0.1:{port}", dashboard_url=f"http://127.0.0.1:{dashboard_port}",
                       num_gpus=num_gpus, clusters=dict(clusters))
        wait_until_accepting(head.dashboard_url, START_TIMEOUT_S)
        yield head
    finally:
        if proc.poll() is None:
            proc.kill()
        LocalHead(f"http://127.0.0.1:{dashboard_port}", pgid=proc.pid, temp_dir=temp).stop()  # its group, its temp dir
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _cluster_image() -> dict[str, str]:
    """PATH and PYTHONPATH for the head (and so for every job): this venv's ``python`` and this checkout."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": path, "PYTHONPATH": python_path}
