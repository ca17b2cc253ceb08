"""The loop on the in-memory store and backend with a manual clock: persist, then act, and never twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from scheduler.domain import AllocationRecord, ClusterRecord
from scheduler.execution.backend import BackendError, JobRefused, JobSpec
from scheduler.execution.executor import Executor
from scheduler.execution.memory import MemoryBackend
from scheduler.execution.reconcile import Rules
from scheduler.states import AllocationState, ClusterState, RoundState
from scheduler.store import AuditQuery
from scheduler.store.memory import MemoryStore
from tests.scheduler.store.builders import T0, allocation, change, cluster, round_, spec

A = AllocationState
RULES = Rules(max_attempts=3, retry_backoff_s=10, pending_timeout_s=600, stop_grace_s=60)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, hours: float) -> None:
        self.now = T0 + timedelta(hours=hours)


class Crash(BaseException):
    """The process dies here (not an error the loop could catch)."""


class Flaky(MemoryBackend):
    """A backend whose next submits raise the given errors, one each."""

    def __init__(self, clock: Clock, *errors: BaseException) -> None:
        super().__init__(clock)
        self.errors = list(errors)
        self.calls: list[str] = []

    def submit(self, job: JobSpec) -> None:
        self.calls.append(job.submission_id)
        if self.errors:
            raise self.errors.pop(0)
        super().submit(job)


def world(*allocs: dict[str, Any], round_state: RoundState = RoundState.PUBLISHED) -> MemoryStore:
    """One cluster, one published round (horizon from T0, one-hour slots), a request per allocation."""
    store = MemoryStore()

    def tx(t: Any) -> None:
        t.add_cluster(cluster(), change())
        t.add_round(round_(state=round_state), change())
        for i, fields in enumerate(allocs):
            request = fields.pop("request", f"req-{i}")
            if request not in {r.id for r in t.list_requests().items}:
                t.submit_request(spec(), id=request, by=change())
            values = {"state": A.APPROVED, "start_slot": 2, "end_slot": 5} | fields
            t.add_allocations([allocation(values.pop("id", f"alloc-{i}"), "round-1", request, **values)], change())

    store.write(tx)
    return store


def executor(store: MemoryStore, backend: MemoryBackend, clock: Clock, **kw: Any) -> Executor:
    return Executor(store, lambda c: backend, clock=clock, rules=RULES, **kw)


def get(store: MemoryStore, id: str = "alloc-0") -> AllocationRecord:
    return store.read(lambda r: r.get_allocation(id))


def tick(ex: Executor) -> None:
    asyncio.run(ex.tick())


def test_submits_at_the_start_slot_and_follows_the_job_to_its_end() -> None:
    clock = Clock()
    store, backend = world({}), MemoryBackend(clock)
    ex = executor(store, backend, clock, utilisation=0.5)
    clock.at(1.9)
    tick(ex)
    assert backend.jobs() == {} and get(store).state == A.APPROVED
    clock.at(2)
    tick(ex)
    [(sid, job)] = backend.jobs().items()
    assert sid == "alloc-0-1" and job.entrypoint == spec().entrypoint and job.gpus == 4
    assert (job.start, job.deadline) == (T0 + timedelta(hours=2), T0 + timedelta(hours=5))
    assert get(store).state == A.SUBMITTED and get(store).execution.submitted_at == clock.now  # type: ignore[union-attr]
    clock.at(2.1)
    backend.start(sid)
    tick(ex)
    assert get(store).state == A.RUNNING
    clock.at(4)
    backend.finish(sid)
    tick(ex)
    done = get(store)
    assert done.state == A.SUCCEEDED and done.usage is not None
    assert done.usage.gpu_hours == pytest.approx(4 * 1.9), "4 GPUs from 2.1 h to 4 h"
    assert done.usage.energy_kwh == pytest.approx(4 * 0.7 * 0.5 * 1.9), "board power x utilisation, PUE 1"
    assert done.usage.energy_source == "estimated" and done.usage.co2_kg is None, "no carbon data: unknown"
    trail = store.read(lambda r: r.list_audit(AuditQuery(subject="allocation/alloc-0"))).items
    assert [(e.before, e.after) for e in trail][-3:] == [("approved", "submitted"), ("submitted", "running"),
                                                         ("running", "succeeded")]
    assert "start slot" in trail[-3].reason and "successfully" in trail[-1].reason
    assert all(e.actor == "allmende" for e in trail[-3:])


def test_a_crash_between_persist_and_act_resubmits_the_same_id_once() -> None:
    clock = Clock()
    store, backend = world({}), Flaky(clock, Crash())
    clock.at(2)
    with pytest.raises(Crash):
        tick(executor(store, backend, clock))
    assert get(store).state == A.SUBMITTED and backend.jobs() == {}  # persisted, not acted on
    tick(executor(store, backend, clock))  # a new process after the restart
    tick(executor(store, backend, clock))
    assert backend.calls == ["alloc-0-1", "alloc-0-1"] and list(backend.jobs()) == ["alloc-0-1"]


def test_a_restart_rebuilds_from_store_and_backend_and_never_duplicates() -> None:
    clock = Clock()
    store, backend = world({}, {}, {}), MemoryBackend(clock)
    clock.at(2)
    tick(executor(store, backend, clock))
    backend.start("alloc-0-1")
    for _ in range(3):
        tick(executor(store, backend, clock))
        clock.now += timedelta(minutes=1)
    assert sorted(backend.jobs()) == ["alloc-0-1", "alloc-1-1", "alloc-2-1"]
    assert get(store, "alloc-0").state == A.RUNNING and get(store, "alloc-1").state == A.SUBMITTED


def test_a_failing_submit_is_retried_with_backoff_then_failed_with_the_reason() -> None:
    clock = Clock()
    backend = Flaky(clock, *(BackendError(f"busy {i}") for i in range(3)))
    store = world({})
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    record = get(store)
    assert record.state == A.SUBMITTED and record.execution is not None
    assert record.execution.next_attempt_at == clock.now + timedelta(seconds=10)
    assert "busy 0" in record.execution.message
    clock.now += timedelta(seconds=9)
    tick(ex)
    assert backend.calls == ["alloc-0-1"]  # still backing off
    clock.now += timedelta(seconds=1)
    tick(ex)
    clock.now += timedelta(seconds=20)
    tick(ex)
    assert backend.calls == ["alloc-0-1", "alloc-0-2", "alloc-0-3"]
    tick(ex)
    failed = get(store)
    assert failed.state == A.FAILED and failed.execution is not None and failed.execution.attempts == 3
    last = store.read(lambda r: r.list_audit(AuditQuery(subject="allocation/alloc-0"))).items[-1]
    assert (last.before, last.after) == ("submitted", "failed") and "busy 2" in last.reason
    assert backend.jobs() == {}


def test_a_refused_job_fails_at_once_with_the_backend_reason() -> None:
    clock = Clock()
    store, backend = world({}), Flaky(clock, JobRefused("runtime_env: no such pip package"))
    clock.at(2)
    tick(executor(store, backend, clock))
    record = get(store)
    assert record.state == A.FAILED and record.execution is not None
    assert "no such pip package" in record.execution.message


def test_a_job_pending_past_the_timeout_is_stopped_and_failed() -> None:
    clock = Clock()
    store, backend = world({}), MemoryBackend(clock)
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    clock.now += timedelta(seconds=601)
    tick(ex)
    assert backend.observe()[0].phase == "stopped"
    tick(ex)
    record = get(store)
    assert record.state == A.FAILED and record.execution is not None
    last = store.read(lambda r: r.list_audit(AuditQuery(subject="allocation/alloc-0"))).items[-1]
    assert "lacks resources" in last.reason


def test_a_job_that_outlives_its_window_is_stopped() -> None:
    clock = Clock()
    store, backend = world({}), MemoryBackend(clock)
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    backend.start("alloc-0-1")
    tick(ex)
    clock.now = T0 + timedelta(hours=5, seconds=60)
    tick(ex)
    tick(ex)
    assert get(store).state == A.FAILED and "outlived" in get(store).execution.message  # type: ignore[union-attr]


class Slow(MemoryBackend):
    """A backend whose jobs take a while to stop: the stop is only counted."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.stops: list[str] = []

    def stop(self, submission_id: str) -> None:
        self.stops.append(submission_id)

    def comply(self, submission_id: str) -> None:
        """The job finally stops."""
        super().stop(submission_id)


def test_a_stop_asked_again_on_every_tick_is_audited_once() -> None:
    clock = Clock()
    store, backend = world({}), Slow(clock)
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    backend.start("alloc-0-1")
    tick(ex)
    clock.now = T0 + timedelta(hours=5, seconds=60)
    for _ in range(3):
        tick(ex)
    assert backend.stops == ["alloc-0-1"] * 3, "sent again: the last one may have been lost"
    trail = store.read(lambda r: r.list_audit(AuditQuery(subject="allocation/alloc-0"))).items
    assert [e.action for e in trail].count("stop") == 1
    backend.comply("alloc-0-1")
    tick(ex)
    assert get(store).state == A.FAILED and "outlived" in get(store).execution.message  # type: ignore[union-attr]


def test_a_stale_cluster_flags_its_allocations_and_its_job_is_found_when_it_returns() -> None:
    clock = Clock()
    store, backend = world({}, {"start_slot": 3, "end_slot": 4}), MemoryBackend(clock)
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    backend.start("alloc-0-1")
    tick(ex)

    def set_cluster(state: ClusterState) -> None:
        def tx(t: Any) -> ClusterRecord:
            c = t.get_cluster("c-de-1")
            return t.update_cluster(c.model_copy(update={"state": state}), change())  # type: ignore[no-any-return]
        store.write(tx)

    set_cluster(ClusterState.STALE)
    tick(ex)
    assert get(store, "alloc-0").state == A.STALE and get(store, "alloc-1").state == A.STALE
    assert get(store, "alloc-1").execution.replan  # type: ignore[union-attr]
    clock.at(3.5)
    backend.finish("alloc-0-1")
    tick(ex)
    assert backend.jobs().keys() == {"alloc-0-1"}  # nothing starts on a stale cluster
    set_cluster(ClusterState.ACTIVE)
    tick(ex)
    assert get(store, "alloc-0").state == A.SUCCEEDED
    assert get(store, "alloc-1").state == A.STALE  # never submitted: waits for re-planning
    assert backend.jobs().keys() == {"alloc-0-1"}


def test_two_approved_allocations_of_one_request_run_one_job() -> None:
    clock = Clock()
    store = world({"id": "alloc-old", "request": "req-x"},
                  {"id": "alloc-pin", "request": "req-x", "pinned": True, "start_slot": 3, "end_slot": 5})
    backend = MemoryBackend(clock)
    ex = executor(store, backend, clock)
    for h in (2, 3, 4):
        clock.at(h)
        tick(ex)
    assert list(backend.jobs()) == ["alloc-pin-1"]
    assert get(store, "alloc-old").state == A.SUPERSEDED


@pytest.mark.parametrize("round_state", [pytest.param(RoundState.REJECTED, id="a rejected round never executes"),
                                         pytest.param(RoundState.APPROVED, id="an unpublished round waits")])
def test_only_published_rounds_execute(round_state: RoundState) -> None:
    clock = Clock()
    store, backend = world({}, round_state=round_state), MemoryBackend(clock)
    clock.at(2)
    tick(executor(store, backend, clock))
    assert backend.jobs() == {} and get(store).state == A.APPROVED


def test_a_backend_that_cannot_be_observed_changes_nothing() -> None:
    clock = Clock()
    store, backend = world({}), MemoryBackend(clock)
    ex = executor(store, backend, clock)
    clock.at(2)
    tick(ex)
    backend.start("alloc-0-1")
    tick(ex)
    blind = MemoryBackend(clock)
    blind.observe = lambda: (_ for _ in ()).throw(BackendError("dashboard down"))  # type: ignore[method-assign]
    tick(executor(store, blind, clock))
    assert get(store).state == A.RUNNING


def test_the_memory_backend_keeps_the_backend_contract() -> None:
    clock = Clock()
    backend = MemoryBackend(clock)
    job = JobSpec(submission_id="a-1", allocation_id="a", request_id="r", round_id="round", org="o", cluster="c",
                  gpu_type="H100", gpus=1, entrypoint="true", start=T0, deadline=T0 + timedelta(hours=1))
    backend.submit(job)
    backend.submit(job)  # a repeated submit is a no-op
    backend.stop("unknown")  # stopping an unknown job is a no-op
    [seen] = backend.observe()
    assert (seen.submission_id, seen.allocation_id, seen.phase) == ("a-1", "a", "pending")
    backend.stop("a-1")
    backend.stop("a-1")  # and so is stopping a finished one
    assert backend.observe()[0].phase == "stopped"
