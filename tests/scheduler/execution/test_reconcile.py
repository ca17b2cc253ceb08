"""The decision table, row by row: a story for each (state, situation) and the action it leads to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from scheduler.domain import AllocationRecord, Execution
from scheduler.execution.backend import JobPhase, ObservedJob
from scheduler.execution.reconcile import (
    TABLE,
    Action,
    Desired,
    Do,
    Orphan,
    Rules,
    Situation,
    reconcile,
    submission_id,
    window,
)
from scheduler.states import AllocationState
from tests.scheduler.store.builders import T0, allocation, round_

A, S = AllocationState, Situation
RULES = Rules(max_attempts=3, retry_backoff_s=10, pending_timeout_s=600, stop_grace_s=60)
START, END = T0 + timedelta(hours=2), T0 + timedelta(hours=5)  # slots 2..5 of one-hour slots


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def item(state: AllocationState, *, stale: bool = False, pinned: bool = False, id: str = "alloc-1",
         request: str = "req-1", start_slot: int = 2, **execution: Any) -> Desired:
    ex = Execution(backend="ray", **execution) if execution else None
    a = allocation(id, "round-1", request, state=state, start_slot=start_slot, end_slot=start_slot + 3,
                   pinned=pinned, execution=ex)
    return Desired(a, window(round_(), a, None, T0), cluster_stale=stale)


def job(phase: JobPhase, sid: str = "alloc-1-1", allocation_id: str = "alloc-1", message: str = "") -> ObservedJob:
    return ObservedJob(submission_id=sid, allocation_id=allocation_id, phase=phase, message=message)


SUBMITTED = {"attempts": 1, "submission_id": "alloc-1-1", "submitted_at": hours(2)}
FAILED_ONCE = {"attempts": 1, "submission_id": "alloc-1-1", "next_attempt_at": hours(2.5), "message": "busy"}
FAILED_THRICE = {"attempts": 3, "submission_id": "alloc-1-3", "next_attempt_at": hours(4), "message": "busy"}

# (desired, observed job, now) -> (situation, action, new state, submission id, reason contains)
ROWS = [
    pytest.param(item(A.APPROVED, stale=True), None, hours(2), S.CLUSTER_STALE, Do.MARK, A.STALE, "", "re-planning",
                 id="approved on a stale cluster turns stale, flagged for re-planning"),
    pytest.param(item(A.APPROVED), None, hours(1.99), S.NOT_YET, Do.WAIT, None, "", "never submitted before",
                 id="nothing is submitted before the start slot"),
    pytest.param(item(A.APPROVED), None, hours(2), S.DUE, Do.SUBMIT, A.SUBMITTED, "alloc-1-1", "start slot",
                 id="the start slot submits attempt 1"),
    pytest.param(item(A.APPROVED), None, hours(5), S.MISSED, Do.MARK, A.FAILED, "", "window ended",
                 id="a window that passed unexecuted fails the allocation"),
    *[pytest.param(item(A.APPROVED), job(p), now, s, Do.MARK, A.SUBMITTED, "alloc-1-1", "adopted",
                   id=f"approved, but the backend holds its job {s.value}: adopted")
      for p, now, s in [(JobPhase.PENDING, hours(2), S.PENDING), (JobPhase.PENDING, hours(4), S.PENDING_TOO_LONG),
                        (JobPhase.RUNNING, hours(3), S.RUNNING), (JobPhase.RUNNING, hours(6), S.OUTLIVED),
                        (JobPhase.PENDING, hours(6), S.EXPIRED),
                        (JobPhase.SUCCEEDED, hours(3), S.SUCCEEDED), (JobPhase.FAILED, hours(3), S.FAILED),
                        (JobPhase.STOPPED, hours(3), S.STOPPED)]],
    pytest.param(item(A.SUBMITTED, stale=True, **SUBMITTED), job(JobPhase.PENDING), hours(2), S.CLUSTER_STALE,
                 Do.MARK, A.STALE, "alloc-1-1", "stale", id="a queued job's cluster goes stale"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), None, hours(2.1), S.DUE, Do.SUBMIT, None, "alloc-1-1", "same id",
                 id="recorded but never reached the backend: the same id is submitted again"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), None, hours(1), S.NOT_YET, Do.WAIT, None, "", "clocks",
                 id="recorded before its start (clocks differ): waits for the start"),
    pytest.param(item(A.SUBMITTED, **FAILED_ONCE), None, hours(2.4), S.BACKING_OFF, Do.WAIT, None, "", "backoff",
                 id="a failed submit waits out its backoff"),
    pytest.param(item(A.SUBMITTED, **FAILED_ONCE), None, hours(2.5), S.RETRY_DUE, Do.SUBMIT, None, "alloc-1-2",
                 "next attempt", id="after the backoff the next attempt gets the next id"),
    pytest.param(item(A.SUBMITTED, **FAILED_THRICE), None, hours(2.5), S.EXHAUSTED, Do.MARK, A.FAILED, "",
                 "(3 of 3): busy", id="the last attempt failed: failed, with the backend's reason"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), None, hours(5), S.MISSED, Do.MARK, A.FAILED, "", "window ended",
                 id="a submission that never reached the backend within its window fails"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.PENDING), hours(2.1), S.PENDING, Do.WAIT, None, "",
                 "waits for resources", id="a queued job within its pending timeout waits"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.PENDING), hours(2.2), S.PENDING_TOO_LONG, Do.STOP,
                 A.FAILED, "alloc-1-1", "lacks resources", id="a job pending past the timeout is stopped and failed"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.RUNNING), hours(2.1), S.RUNNING, Do.MARK, A.RUNNING,
                 "alloc-1-1", "running", id="the backend reports the job running"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.PENDING), hours(5.02), S.EXPIRED, Do.STOP, A.FAILED,
                 "alloc-1-1", "never started", id="a job queued past its window and grace is stopped and failed"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.RUNNING), hours(5.02), S.OUTLIVED, Do.STOP, None,
                 "alloc-1-1", "after its window", id="a job that started late and outlives its window is stopped"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.SUCCEEDED), hours(3), S.SUCCEEDED, Do.MARK,
                 A.SUCCEEDED, "alloc-1-1", "between two ticks", id="a short job finished between two ticks"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED), job(JobPhase.FAILED, message="ImportError"), hours(3), S.FAILED,
                 Do.MARK, A.FAILED, "alloc-1-1", "ImportError", id="a job that failed at once carries its message"),
    pytest.param(item(A.SUBMITTED, **SUBMITTED | {"message": "pending past the timeout"}), job(JobPhase.STOPPED),
                 hours(3), S.STOPPED, Do.MARK, A.FAILED, "alloc-1-1", "pending past the timeout",
                 id="a job we stopped for pending too long fails with that reason"),
    pytest.param(item(A.RUNNING, stale=True, **SUBMITTED), job(JobPhase.RUNNING), hours(3), S.CLUSTER_STALE,
                 Do.MARK, A.STALE, "alloc-1-1", "outcome unknown", id="a running job's cluster goes stale"),
    pytest.param(item(A.RUNNING, **SUBMITTED), job(JobPhase.RUNNING), hours(5.01), S.RUNNING, Do.WAIT, None, "",
                 "within its window", id="a job just past its end is within the grace"),
    pytest.param(item(A.RUNNING, **SUBMITTED), job(JobPhase.RUNNING), hours(5) + timedelta(seconds=60), S.OUTLIVED,
                 Do.STOP, None, "alloc-1-1", "outlived", id="job outlives its window is stopped"),
    pytest.param(item(A.RUNNING, **SUBMITTED), job(JobPhase.SUCCEEDED), hours(4), S.SUCCEEDED, Do.MARK, A.SUCCEEDED,
                 "alloc-1-1", "successfully", id="the job exits successfully"),
    pytest.param(item(A.RUNNING, **SUBMITTED), job(JobPhase.FAILED, message="OOM"), hours(4), S.FAILED, Do.MARK,
                 A.FAILED, "alloc-1-1", "OOM", id="the job exits with an error"),
    pytest.param(item(A.RUNNING, **SUBMITTED | {"message": "outlived its window"}), job(JobPhase.STOPPED),
                 hours(5.1), S.STOPPED, Do.MARK, A.FAILED, "alloc-1-1", "outlived its window",
                 id="the job we stopped for outliving its window fails with that reason"),
    pytest.param(item(A.RUNNING, **SUBMITTED), None, hours(3), S.ABSENT, Do.MARK, A.FAILED, "", "lost",
                 id="a running job the backend forgot is lost"),
    pytest.param(item(A.STALE, stale=True, **SUBMITTED), job(JobPhase.RUNNING), hours(3), S.CLUSTER_STALE, Do.WAIT,
                 None, "", "still stale", id="nothing changes while the cluster stays stale"),
    pytest.param(item(A.STALE, **SUBMITTED), None, hours(3), S.ABSENT, Do.WAIT, None, "", "does not know",
                 id="the cluster is back without the job: stays stale"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.PENDING), hours(2.1), S.PENDING, Do.MARK, A.SUBMITTED,
                 "alloc-1-1", "queued", id="the cluster is back and the job still queued"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.PENDING), hours(3), S.PENDING_TOO_LONG, Do.MARK,
                 A.SUBMITTED, "alloc-1-1", "queued", id="the cluster is back and the job queued long"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.RUNNING), hours(3), S.RUNNING, Do.MARK, A.RUNNING,
                 "alloc-1-1", "still runs", id="the cluster is back and the job still runs"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.PENDING), hours(6), S.EXPIRED, Do.MARK, A.SUBMITTED,
                 "alloc-1-1", "still queued", id="the cluster is back and the job is queued past its window"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.RUNNING), hours(6), S.OUTLIVED, Do.MARK, A.RUNNING,
                 "alloc-1-1", "past its window", id="the cluster is back late and the job still runs"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.SUCCEEDED), hours(6), S.SUCCEEDED, Do.MARK, A.SUCCEEDED,
                 "alloc-1-1", "succeeded meanwhile", id="the cluster is back and the job succeeded meanwhile"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.FAILED), hours(6), S.FAILED, Do.MARK, A.FAILED,
                 "alloc-1-1", "failed meanwhile", id="the cluster is back and the job failed meanwhile"),
    pytest.param(item(A.STALE, **SUBMITTED), job(JobPhase.STOPPED), hours(6), S.STOPPED, Do.MARK, A.FAILED,
                 "alloc-1-1", "stopped meanwhile", id="the cluster is back and the job was stopped meanwhile"),
]


@pytest.mark.parametrize(("desired", "observed", "now", "where", "do", "to", "sid", "reason"), ROWS)
def test_each_row_of_the_table(desired: Desired, observed: ObservedJob | None, now: datetime, where: Situation,
                               do: Do, to: AllocationState | None, sid: str, reason: str) -> None:
    jobs = {observed.submission_id: observed} if observed else {}
    [action] = reconcile([desired], jobs, now, RULES)
    assert isinstance(action, Action)
    assert action.row == (desired.allocation.state, where)
    assert (action.do, action.to) == (do, to)
    assert reason in action.reason
    if sid:
        assert action.submission_id == sid
    assert action.replan is (to == A.STALE)


def test_every_row_of_the_table_has_a_story() -> None:
    told = {(A.APPROVED, S.DUPLICATE)}  # told by test_one_request_executes_one_allocation
    for p in ROWS:
        desired, _, _, where, *_ = p.values
        assert isinstance(desired, Desired) and isinstance(where, Situation)
        told.add((desired.allocation.state, where))
    assert told == set(TABLE)


def test_a_pair_missing_from_the_table_means_nothing_to_do() -> None:
    desired = item(A.RUNNING, **SUBMITTED)
    assert reconcile([desired], {"alloc-1-1": job(JobPhase.PENDING)}, hours(3), RULES) == []


@pytest.mark.parametrize(
    ("others", "executes"),
    [
        pytest.param([item(A.APPROVED, id="alloc-b", start_slot=1)], "alloc-b",
                     id="of two approved allocations the earliest executes"),
        pytest.param([item(A.APPROVED, id="alloc-b", start_slot=3, pinned=True)], "alloc-b",
                     id="a pinned allocation executes before an earlier unpinned one"),
        pytest.param([item(A.SUBMITTED, id="alloc-b", start_slot=3, attempts=1, submission_id="alloc-b-1",
                           submitted_at=hours(2))], "alloc-b",
                     id="the one already submitted keeps executing"),
    ],
)
def test_one_request_executes_one_allocation(others: list[Desired], executes: str) -> None:
    desired = [item(A.APPROVED, id="alloc-a"), *others]
    actions = [a for a in reconcile(desired, {}, hours(3.5), RULES) if isinstance(a, Action)]
    superseded = [a.allocation.id for a in actions if a.to == A.SUPERSEDED]
    assert superseded == sorted({"alloc-a", "alloc-b"} - {executes})
    assert all(a.do != Do.SUBMIT or a.allocation.id == executes for a in actions)


def test_a_submit_that_reached_the_backend_under_an_earlier_attempt_is_adopted_not_repeated() -> None:
    desired = item(A.SUBMITTED, attempts=2, submission_id="alloc-1-2", next_attempt_at=hours(2.5), message="timeout")
    [action] = reconcile([desired], {"alloc-1-1": job(JobPhase.RUNNING)}, hours(2.6), RULES)
    assert isinstance(action, Action)
    assert (action.do, action.to, action.submission_id) == (Do.MARK, A.RUNNING, "alloc-1-1")


@pytest.mark.parametrize(
    ("observed", "orphans"),
    [
        pytest.param(job(JobPhase.RUNNING, "alloc-x-1", "alloc-x"), ["alloc-x-1"],
                     id="a live job nobody wants is reported"),
        pytest.param(job(JobPhase.SUCCEEDED, "alloc-x-1", "alloc-x"), [],
                     id="a finished allocation's old job is not an orphan"),
    ],
)
def test_jobs_nobody_wants_are_left_alone(observed: ObservedJob, orphans: list[str]) -> None:
    out = reconcile([], {observed.submission_id: observed}, hours(3), RULES)
    assert [o.job.submission_id for o in out if isinstance(o, Orphan)] == orphans
    assert not [a for a in out if isinstance(a, Action)]


@pytest.mark.parametrize(
    ("seconds_per_slot", "start", "end"),
    [
        pytest.param(None, T0 + timedelta(hours=2), T0 + timedelta(hours=5), id="slots are the horizon's hours"),
        pytest.param(2.0, T0 + timedelta(days=1, seconds=4), T0 + timedelta(days=1, seconds=10),
                     id="a compressed clock counts seconds from publication"),
    ],
)
def test_window_maps_slots_to_wall_clock(seconds_per_slot: float | None, start: datetime, end: datetime) -> None:
    a: AllocationRecord = allocation("alloc-1", "round-1", "req-1", start_slot=2, end_slot=5)
    w = window(round_(), a, seconds_per_slot, epoch=T0 + timedelta(days=1))
    assert (w.start, w.end) == (start, end)


def test_submission_ids_are_a_function_of_allocation_and_attempt() -> None:
    assert submission_id("alloc-1", 2) == submission_id("alloc-1", 2) != submission_id("alloc-1", 3)


@pytest.mark.parametrize(("attempts", "wait_s"), [(1, 10), (2, 20), (3, 40)])
def test_backoff_doubles(attempts: int, wait_s: float) -> None:
    assert RULES.backoff(attempts) == timedelta(seconds=wait_s)
