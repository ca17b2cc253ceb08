"""The executor's loop against a real Ray head: windows, retries, refusals, pending timeouts and accounting.

Each test seeds a SQLite store with one published round on cluster ``de-01`` (which the session's head
serves with 4 GPUs), then drives :meth:`Executor.tick` on the real wall clock with a compressed round
clock (one slot = one second; a slot is an hour of round time) until the allocation settles.
Allocation ids carry a per-test tag: the head is shared by the session and keeps every job it ran.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler import accounting
from scheduler.access import SYSTEM
from scheduler.domain import AllocationRecord, AuditEntry, CarbonForecast
from scheduler.execution.backend import Backend, JobPhase, JobSpec, ObservedJob
from scheduler.execution.executor import Executor
from scheduler.execution.ray_jobs import RayJobsBackend
from scheduler.execution.reconcile import Rules, window
from scheduler.states import AllocationState, RoundState
from scheduler.store import AuditQuery, Repository, open_store
from support.ports import free_port
from support.ray_head import RayHead
from tests.scheduler.store.builders import T0, allocation, change, cluster, round_, spec

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

A = AllocationState
CLUSTER = "de-01"  # served by the session's head: 4 GPUs, cluster:de-01 = 8 (support/ray_head.py)
SECONDS_PER_SLOT = 1.0
UTILISATION = 0.7
TICK_S = 0.25
SETTLED = frozenset({A.SUCCEEDED, A.FAILED})
PATIENT = Rules(max_attempts=5, retry_backoff_s=1.0, pending_timeout_s=30.0, stop_grace_s=30.0)


@dataclass
class World:
    """A store with one published round, the executor over it, and what each tick left behind."""

    store: Repository
    executor: Executor
    seen: list[AllocationRecord] = field(default_factory=list)

    def get(self, id: str) -> AllocationRecord:
        return self.store.read(lambda r: r.get_allocation(id))

    def trail(self, id: str) -> list[AuditEntry]:
        return list(self.store.read(lambda r: r.list_audit(AuditQuery(subject=f"allocation/{id}"))).items)

    def drive(self, id: str, until: Callable[[AllocationRecord], bool], timeout_s: float = 30.0) -> AllocationRecord:
        """Tick until ``until`` holds for the allocation, recording it after every tick."""

        async def loop() -> AllocationRecord:
            deadline = time.monotonic() + timeout_s
            while True:
                await self.executor.tick()
                record = self.get(id)
                self.seen.append(record)
                if until(record):
                    return record
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{id} is still {record.state} after {timeout_s:g} s: {record.execution}")
                await asyncio.sleep(TICK_S)

        return asyncio.run(loop())


@pytest.fixture
def tag() -> str:
    """Tells this test's allocations (and so its Ray jobs) apart from every other test's on the shared head."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[[], Repository]]:
    opened: list[Repository] = []

    def open_one() -> Repository:
        opened.append(open_store(f"sqlite:///{tmp_path / f'allmende-{len(opened)}.db'}"))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def world(store: Repository, backend: Backend, rules: Rules, *jobs: dict[str, Any],
          **cluster_fields: Any) -> World:
    """Cluster ``de-01``, a round published now (horizon from T0, one-hour slots), a request per job."""
    now = datetime.now(UTC)

    def tx(t: Any) -> None:
        t.add_cluster(cluster(CLUSTER, **cluster_fields), change())
        t.add_round(round_(state=RoundState.PUBLISHED, created_at=now, updated_at=now), change())
        for i, job in enumerate(jobs):
            request = spec(gpus=job.get("gpus", 1), entrypoint=job["entrypoint"], runtime_env={})  # nothing to fetch
            t.submit_request(request, id=f"req-{i}", by=change())
            t.add_allocations([allocation(job["id"], "round-1", f"req-{i}", state=A.APPROVED, cluster=CLUSTER,
                                          start_slot=job.get("start_slot", 0), end_slot=job.get("end_slot", 30))],
                              SYSTEM.change("seed", now))

    store.write(tx)
    executor = Executor(store, lambda c: backend, clock=lambda: datetime.now(UTC), rules=rules,
                        seconds_per_slot=SECONDS_PER_SLOT, utilisation=UTILISATION)
    return World(store, executor)


def jobs_of(head: RayHead, allocation_id: str) -> list[ObservedJob]:
    return [j for j in RayJobsBackend(head.dashboard_url).observe() if j.allocation_id == allocation_id]


def rules(**fields: Any) -> Rules:
    """Patient enough for a loaded machine: a head that is briefly busy ("no available agent") is retried."""
    return replace(PATIENT, **fields)


def settled(record: AllocationRecord) -> bool:
    return record.state in SETTLED


class SubmitsIntoTheVoid:
    """The head answers the executor's reads, but its submits go to a port nobody listens on.

    A partial partition: the executor can see the cluster (so it acts on it) but cannot reach it to submit.
    Both halves are real Ray Jobs backends."""

    kind = "ray"

    def __init__(self, head: RayHead) -> None:
        self.head = RayJobsBackend(head.dashboard_url)
        self.void = RayJobsBackend(f"http://127.0.0.1:{free_port()}")

    def submit(self, job: JobSpec) -> None:
        self.void.submit(job)

    def observe(self) -> list[ObservedJob]:
        return self.head.observe()

    def stop(self, submission_id: str) -> None:
        self.head.stop(submission_id)


def test_a_job_that_outlives_its_window_is_stopped_and_failed(ray_head: RayHead, stores: Any, tag: str) -> None:
    id = f"outlive-{tag}"
    w = world(stores(), RayJobsBackend(ray_head.dashboard_url), rules(stop_grace_s=0.5),
              {"id": id, "entrypoint": "sleep 60", "start_slot": 0, "end_slot": 8})  # time enough to start under load
    done = w.drive(id, settled)
    assert done.state == A.FAILED and done.execution is not None
    assert done.execution.job_status == JobPhase.STOPPED and "window" in done.execution.message
    [job] = jobs_of(ray_head, id)
    assert job.phase is JobPhase.STOPPED, "Ray stopped the job"
    assert job.started_at is not None and job.ended_at is not None
    assert job.ended_at - job.started_at < timedelta(seconds=30), "stopped, not slept out"
    trail = w.trail(id)
    [stop] = [e for e in trail if e.action == "stop"]
    assert "window and grace" in stop.reason, "the stop is audited with why, once, though asked on every tick"
    assert (trail[-1].after, trail[-1].actor) == ("failed", "allmende")
    assert "stopped" in trail[-1].reason and "window" in trail[-1].reason


def test_a_submit_that_never_reaches_ray_is_retried_with_backoff_then_failed(ray_head: RayHead, stores: Any,
                                                                             tag: str) -> None:
    id = f"void-{tag}"
    backoff = rules(max_attempts=3, retry_backoff_s=0.4)
    w = world(stores(), SubmitsIntoTheVoid(ray_head), backoff, {"id": id, "entrypoint": "sleep 1"})
    done = w.drive(id, settled)
    assert done.state == A.FAILED and done.execution is not None
    assert done.execution.attempts == 3 and done.execution.message.startswith("submit failed: BackendError")
    trail = w.trail(id)
    submits = [e for e in trail if e.action == "submit"]
    failures = [e for e in trail if e.action == "submit_failed"]
    assert [f"(attempt {n}, {id}-{n})" in e.reason for n, e in enumerate(submits, 1)] == [True] * 3
    assert len(failures) == 3 and all(e.reason.startswith("submit failed: BackendError") for e in failures)
    waits = [(s.at - f.at).total_seconds() for f, s in zip(failures, submits[1:], strict=False)]
    assert waits[0] >= 0.4 and waits[1] >= 0.8, f"backoff doubles after each failure: {waits}"
    retries = {r.execution.attempts: r.execution.next_attempt_at for r in w.seen
               if r.execution is not None and r.execution.next_attempt_at is not None}
    assert sorted(retries) == [1, 2, 3], "each failed attempt was recorded with its retry time"
    assert trail[-1].after == "failed" and trail[-1].reason.startswith("every submit attempt failed (3 of 3): submit")
    assert jobs_of(ray_head, id) == [], "nothing reached Ray"


def test_a_job_that_exits_non_zero_fails_with_rays_message(ray_head: RayHead, stores: Any, tag: str) -> None:
    id = f"exit-{tag}"
    w = world(stores(), RayJobsBackend(ray_head.dashboard_url), rules(),
              {"id": id, "entrypoint": "echo 'out of patience' >&2 && exit 3"})
    done = w.drive(id, settled)
    assert done.state == A.FAILED and done.execution is not None
    assert done.execution.attempts == 1 and done.execution.job_status == JobPhase.FAILED
    assert "exit code 3" in done.execution.message, "Ray's own words"
    assert "exit code 3" in w.trail(id)[-1].reason
    assert done.usage is not None and done.usage.gpu_hours > 0, "a failed run still used its GPUs"


def test_a_gang_larger_than_the_cluster_is_refused_at_once(ray_head: RayHead, stores: Any, tag: str) -> None:
    id = f"gang-{tag}"
    w = world(stores(), RayJobsBackend(ray_head.dashboard_url), rules(),
              {"id": id, "entrypoint": "sleep 1", "gpus": 16})
    done = w.drive(id, settled)
    assert len(w.seen) == 1, "refused in the tick that submitted it, not left pending"
    assert done.state == A.FAILED and done.execution is not None and done.execution.attempts == 1
    assert done.execution.message == ("the backend refused the job: needs 16 GPUs of cluster de-01; "
                                      "the Ray cluster has 4")
    assert w.trail(id)[-1].after == "failed" and "needs 16 GPUs" in w.trail(id)[-1].reason
    assert jobs_of(ray_head, id) == [], "no Ray job left behind"


def test_a_job_pending_past_its_timeout_is_stopped_and_failed(ray_head: RayHead, stores: Any, tag: str) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(ray_head.dashboard_url)
    blocker = client.submit_job(entrypoint="sleep 60", entrypoint_num_gpus=ray_head.num_gpus,
                                submission_id=f"someone-else-{tag}")  # other work holds every GPU
    try:
        deadline = time.monotonic() + 30
        while client.get_job_status(blocker) != JobStatus.RUNNING:
            assert time.monotonic() < deadline, "the blocking job did not start"
            time.sleep(0.2)
        id = f"pending-{tag}"
        w = world(stores(), RayJobsBackend(ray_head.dashboard_url), rules(pending_timeout_s=1.5),
                  {"id": id, "entrypoint": "sleep 30", "gpus": ray_head.num_gpus})
        done = w.drive(id, settled)
        [job] = jobs_of(ray_head, id)
        assert job.phase is JobPhase.PENDING, "failed at once, though Ray holds the stop until the job is placed"
    finally:
        client.stop_job(blocker)
    assert done.state == A.FAILED and done.execution is not None
    assert "pending past the timeout" in done.execution.message
    trail = w.trail(id)
    [submit] = [e for e in trail if e.action == "submit"]
    [stop] = [e for e in trail if e.action == "stop"]
    assert stop.at - submit.at >= timedelta(seconds=1.5), "it waited out its pending timeout first"
    assert (stop.before, stop.after) == ("submitted", "failed") and "pending past the timeout" in stop.reason
    deadline = time.monotonic() + 30
    while not (ended := jobs_of(ray_head, id)[0]).phase.terminal and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ended.phase is JobPhase.STOPPED, "once placed, the job meets its stop instead of running"


def test_a_real_run_is_accounted_on_the_rounds_horizon(ray_head: RayHead, stores: Any, tag: str) -> None:
    id = f"account-{tag}"
    carbon = CarbonForecast(start=T0, values=[100.0 + 50 * h for h in range(48)])  # dirtier by the hour
    w = world(stores(), RayJobsBackend(ray_head.dashboard_url), rules(),
              {"id": id, "entrypoint": "sleep 2", "gpus": 2, "start_slot": 1, "end_slot": 30},
              pue=1.25, carbon=carbon)
    done = w.drive(id, settled)
    assert done.state == A.SUCCEEDED, done.execution
    ex, usage = done.execution, done.usage
    assert ex is not None and ex.started_at is not None and ex.ended_at is not None and usage is not None
    round, record = w.store.read(lambda r: (r.get_round("round-1"), r.get_cluster(CLUSTER)))
    slot = timedelta(seconds=SECONDS_PER_SLOT)
    on_horizon = round.horizon.start + timedelta(hours=1)  # slot 1 of one-hour slots
    assert usage.started_at == on_horizon + (ex.started_at - (round.updated_at + slot)) * 3600
    assert usage.ended_at == on_horizon + (ex.ended_at - (round.updated_at + slot)) * 3600
    wall_s = (ex.ended_at - ex.started_at).total_seconds()
    assert wall_s >= 2 and usage.gpu_hours == pytest.approx(2 * wall_s), "a wall-clock second is a round hour"
    assert usage.energy_kwh == pytest.approx(usage.gpu_hours * 0.700 * UTILISATION * 1.25), "TDP x use x PUE"
    assert usage.energy_source == "estimated"
    span = window(round, done, SECONDS_PER_SLOT, epoch=round.updated_at)
    expected = accounting.usage(record, "H100", 2, span.to_round(ex.started_at), span.to_round(ex.ended_at),
                                utilisation=UTILISATION)
    assert usage == expected
    assert usage.co2_kg is not None and usage.co2_kg > usage.energy_kwh * 0.150, "from hour 1 on, 150 g/kWh or more"
