"""Kill -9 the executor five times while real Ray jobs run: every allocation still runs exactly once.

Needs the Ray Jobs backend (``scheduler.execution.ray_jobs``) and a ``ray_head`` fixture with a
``dashboard_url``; skipped where either is missing.  The executor runs in a child process on a SQLite
store, with a compressed clock (one slot = one second), and is SIGKILLed at random moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.access import SYSTEM
from scheduler.execution.executor import Executor
from scheduler.execution.reconcile import Rules
from scheduler.states import AllocationState, RoundState
from scheduler.store import AllocationQuery, open_store
from tests.scheduler.store.builders import allocation, change, cluster, round_, spec

ray_jobs = pytest.importorskip("scheduler.execution.ray_jobs", reason="the Ray Jobs backend is not merged yet")

JOBS = 6
KILLS = 5
SECONDS_PER_SLOT = 1.0
DONE = {AllocationState.SUCCEEDED, AllocationState.FAILED}
CLUSTER = "de-01"  # a cluster the session's Ray head serves (support/ray_head.py)
pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]


def seed(url: str) -> None:
    store = open_store(url)
    now = datetime.now(UTC)

    def tx(t: Any) -> None:
        t.add_cluster(cluster(CLUSTER), change())
        t.add_round(round_(state=RoundState.PUBLISHED, created_at=now, updated_at=now), change())
        for i in range(JOBS):
            job = spec(gpus=1, entrypoint=f"sleep 2 && echo job {i}", runtime_env={})  # no pip: nothing to fetch
            t.submit_request(job, id=f"req-{i}", by=change())
            t.add_allocations([allocation(f"crash-{i}", "round-1", f"req-{i}", state=AllocationState.APPROVED,
                                          cluster=CLUSTER, start_slot=i % 3, end_slot=i % 3 + 30)],
                              SYSTEM.change("seed", now))

    store.write(tx)
    store.close()


def states(url: str) -> dict[str, AllocationState]:
    store = open_store(url)
    try:
        return {a.id: a.state for a in store.read(lambda r: r.list_allocations(AllocationQuery()).items)}
    finally:
        store.close()


def test_every_job_runs_exactly_once_across_five_sigkills(tmp_path: Path, ray_head: Any) -> None:
    url = f"sqlite:///{tmp_path / 'allmende.db'}"
    seed(url)
    rng = random.Random(7)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    child = [sys.executable, "-m", "tests.scheduler.execution.test_crash_ray", url, ray_head.dashboard_url]
    for _ in range(KILLS):
        proc = subprocess.Popen(child, env=env)
        time.sleep(rng.uniform(0.5, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = subprocess.Popen(child, env=env)
    try:
        deadline = time.monotonic() + 120
        while set(states(url).values()) - DONE and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        proc.kill()
        proc.wait()
    assert set(states(url).values()) == {AllocationState.SUCCEEDED}
    held = ray_jobs.RayJobsBackend(ray_head.dashboard_url).observe()
    mine = sorted(j.allocation_id for j in held if j.allocation_id.startswith("crash-"))
    assert mine == [f"crash-{i}" for i in range(JOBS)], "one job per allocation, none twice"


def main(url: str, dashboard_url: str) -> None:
    """The executor process the test kills."""
    store = open_store(url)
    backend = ray_jobs.RayJobsBackend(dashboard_url)
    executor = Executor(store, lambda c: backend, clock=lambda: datetime.now(UTC), seconds_per_slot=SECONDS_PER_SLOT,
                        rules=Rules(max_attempts=3, retry_backoff_s=0.5, pending_timeout_s=60, stop_grace_s=30))
    asyncio.run(executor.run_forever(0.2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
