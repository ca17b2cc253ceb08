"""The Ray head that ``allmende serve --execute local`` runs its jobs on: started here, or one that exists.

A started head gets free ports, a fresh temp dir, the dashboard (the Jobs API lives there), as many
logical GPUs as the registered clusters have (or ``local_ray_gpus``), and a custom resource
``cluster:<id>`` per cluster holding that cluster's GPUs, so a job asks for its cluster by name.
``ray start`` runs in a new session, so stopping the head stops exactly its process group and never
another Ray on the machine (``ray stop`` would stop them all).  :class:`OnDemand` starts the head when
the first job needs it, so the clusters registered after the service started are in its resources.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scheduler.domain import ClusterRecord

START_TIMEOUT_S = 120
GRACE_S = 5.0


@dataclass
class LocalHead:
    """A Ray head's dashboard URL; ``pgid`` and ``temp_dir`` only when this process started it."""

    dashboard_url: str
    pgid: int | None = None
    temp_dir: str | None = None
    address: str = ""  # the GCS address (for ray.init) of a head started here

    def stop(self) -> None:
        """Stop a head this process started (SIGTERM to its group, SIGKILL after a grace); a reused one stays."""
        if self.pgid is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.pgid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + GRACE_S
                while _alive(self.pgid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                if not _alive(self.pgid):
                    break
            self.pgid = None
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None


def resources(clusters: Iterable[ClusterRecord]) -> dict[str, float]:
    """The custom resources of the head: ``cluster:<id>`` = that cluster's GPUs."""
    return {f"cluster:{c.id}": float(sum(c.gpus.values())) for c in clusters}


def start(clusters: Iterable[ClusterRecord], gpus: int | None = None, address: str | None = None) -> LocalHead:
    """Reuse the head at ``address`` (a dashboard URL), or start one for ``clusters``."""
    if address:
        return LocalHead(address)
    clusters = list(clusters)
    total = gpus if gpus is not None else sum(sum(c.gpus.values()) for c in clusters)
    return launch(resources(clusters), total)


def launch(custom: Mapping[str, float], gpus: int, *, cpus: int | None = None,
           env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT_S) -> LocalHead:
    """``ray start --head`` on free ports in a fresh temp dir, with ``gpus`` logical GPUs and ``custom``
    resources; returns once the Jobs API takes a job.  ``env`` is added to the head's (and so its jobs')."""
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        raise RuntimeError("running a Ray head needs Ray: pip install 'allmende[ray]'")
    temp = tempfile.mkdtemp(prefix="allmende-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port, dashboard = free_port(), free_port()
    cmd = [str(ray), "start", "--head", "--port", str(port), "--temp-dir", temp, "--node-ip-address", "127.0.0.1",
           "--include-dashboard=true", "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
           "--dashboard-agent-listen-port", str(free_port()),  # the default 52365 may be another head's
           "--num-gpus", str(gpus), "--resources", json.dumps(dict(custom)), "--disable-usage-stats"]
    if cpus is not None:
        cmd += ["--num-cpus", str(cpus)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | job_environment() | dict(env or {}))
    head = LocalHead(f"http://127.0.0.1:{dashboard}", proc.pid, temp, address=f"127.0.0.1:{port}")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        head.stop()
        raise RuntimeError(f"ray start did not finish within {timeout:.0f}s") from None
    if proc.returncode != 0:
        head.stop()
        raise RuntimeError(f"ray start failed ({proc.returncode}): {out.decode(errors='replace')[-2000:]}")
    try:
        wait_until_accepting(head.dashboard_url, timeout)
    except RuntimeError:
        head.stop()
        raise
    return head


def wait_until_accepting(url: str, timeout: float = START_TIMEOUT_S) -> None:
    """Wait until the head's Jobs API takes a job.

    The dashboard answers before its job agent is ready ("No available agent to submit job"), and a
    submission in that gap fails; so readiness is a real submission of a no-op job, which also warms
    the job machinery.  The job carries no Allmende metadata, so the executor never sees it.
    """
    from ray.job_submission import JobSubmissionClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            JobSubmissionClient(url).submit_job(entrypoint="true", submission_id=f"allmende-ready-{uuid.uuid4().hex}")
            return
        except Exception as e:  # connection refused, 404 or 500 while the modules and the agent start
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray Jobs API at {url} took no job within {timeout:.0f} s: {e}") from e
            time.sleep(0.5)


def job_environment() -> dict[str, str]:
    """The head's environment, which its jobs inherit: this interpreter's ``python`` first on PATH."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0"}


class OnDemand:
    """The local head, started the first time a job needs it with the clusters registered by then."""

    def __init__(self, clusters: Callable[[], Iterable[ClusterRecord]], gpus: int | None = None,
                 address: str | None = None) -> None:
        self._clusters, self._gpus, self._address = clusters, gpus, address
        self._head: LocalHead | None = None
        self._lock = threading.Lock()

    def url(self) -> str:
        with self._lock:
            if self._head is None:
                self._head = start(self._clusters(), self._gpus, self._address)
            return self._head.dashboard_url

    def stop(self) -> None:
        with self._lock:
            if self._head is not None:
                self._head.stop()
                self._head = None


def free_port() -> int:
    """A free loopback port (for the head's own ports, and the servers the tests and the demo start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pgid: int) -> bool:
    """Whether any live (not zombie) process remains in group ``pgid``, read from /proc."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False
