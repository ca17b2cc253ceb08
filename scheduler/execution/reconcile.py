"""What the executor does next, decided from what the store wants and what the backends hold: pure.

Two steps, as in Ray's autoscaler v2 reconciler.  First each desired allocation is matched with the
job a backend reports for it and its *situation* is read off (:func:`situation`: not yet due, due,
pending too long, outlived its window, ...).  Then the table :data:`TABLE` maps ``(state, situation)``
to one action and a sentence that says why; a pair missing from the table means "nothing to do".
The executor persists each action before it acts, and reads the outcome back on the next tick.

Two guards come before the table: one request may hold two approved allocations after a re-solve
(a pin adds one while the approved one stays), and only one of them ever executes; and a job that
a backend holds for no desired allocation is reported as an orphan, never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scheduler.domain import AllocationRecord, RoundRecord
from scheduler.execution.backend import JobPhase, ObservedJob
from scheduler.states import AllocationState

A = AllocationState


@dataclass(frozen=True)
class Window:
    """When an allocation may run, in wall-clock time: ``[start, end)``.

    ``planned_start`` is the same instant in the round's own time (its slot's start on the horizon),
    and ``scale`` the round seconds per wall-clock second (1 unless the clock is compressed), so a
    run's wall-clock times map back onto the horizon for accounting.
    """

    start: datetime
    end: datetime
    planned_start: datetime | None = None
    scale: float = 1.0

    def to_round(self, when: datetime) -> datetime:
        """A wall-clock instant of this window in the round's own time."""
        if self.planned_start is None:
            return when
        return self.planned_start + (when - self.start) * self.scale


def window(round: RoundRecord, allocation: AllocationRecord, seconds_per_slot: float | None,
           epoch: datetime) -> Window:
    """The allocation's slots as wall-clock time.

    Normally slot ``t`` starts at ``horizon.start + t * slot_minutes``.  With a compressed clock
    (``seconds_per_slot``, for demos and benchmarks) a slot lasts that many seconds, counted from
    ``epoch``, the instant the round became executable (its publication).
    """
    planned = timedelta(minutes=round.horizon.slot_minutes)
    if seconds_per_slot is None:
        origin, slot = round.horizon.start, planned
    else:
        origin, slot = epoch, timedelta(seconds=seconds_per_slot)
    return Window(origin + allocation.start_slot * slot, origin + allocation.end_slot * slot,
                  planned_start=round.horizon.start + allocation.start_slot * planned, scale=planned / slot)


@dataclass(frozen=True)
class Rules:
    """The executor's knobs (from :class:`~scheduler.settings.Settings`)."""

    max_attempts: int = 3
    retry_backoff_s: float = 5.0
    pending_timeout_s: float = 600.0
    stop_grace_s: float = 60.0

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed submit: ``retry_backoff_s * 2**(attempts - 1)``."""
        return timedelta(seconds=self.retry_backoff_s * 2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class Desired:
    """An executable allocation (of a published round), with its window and whether its cluster is stale."""

    allocation: AllocationRecord
    window: Window
    cluster_stale: bool = False


class Situation(StrEnum):
    """What one desired allocation's job looks like now; the column of the decision table."""

    DUPLICATE = "another allocation of the request executes"
    CLUSTER_STALE = "its cluster is stale or retired"
    NOT_YET = "no job, window not started"
    DUE = "no job, window open"
    MISSED = "no job, window over"
    BACKING_OFF = "no job, last submit failed, retry not yet due"
    RETRY_DUE = "no job, last submit failed, retry due"
    EXHAUSTED = "no job, last submit failed, no attempts left"
    ABSENT = "no job (after it ran)"
    PENDING = "job pending"
    PENDING_TOO_LONG = "job pending past the pending timeout"
    RUNNING = "job running"
    OUTLIVED = "job still alive past its window and grace"
    EXPIRED = "job still queued past its window and grace"
    SUCCEEDED = "job succeeded"
    FAILED = "job failed"
    STOPPED = "job stopped"


class Do(StrEnum):
    SUBMIT = "submit"  # persist submitted + attempt, then submit (same id again: lost submit; next id: retry)
    MARK = "mark"  # persist a new state (and the job's times); no backend call
    STOP = "stop"  # persist why (and the row's state, if any), then stop the job; its phase is read back next tick
    WAIT = "wait"  # nothing to do; the row documents that waiting is the decision


@dataclass(frozen=True)
class Row:
    do: Do
    to: AllocationState | None
    why: str


S = Situation
TABLE: dict[tuple[AllocationState, Situation], Row] = {
    # approved: nothing submitted yet
    (A.APPROVED, S.DUPLICATE): Row(Do.MARK, A.SUPERSEDED, "another approved allocation of the request executes"),
    (A.APPROVED, S.CLUSTER_STALE): Row(Do.MARK, A.STALE, "its cluster is stale: not started, flagged for re-planning"),
    (A.APPROVED, S.NOT_YET): Row(Do.WAIT, None, "a job is never submitted before its start slot"),
    (A.APPROVED, S.DUE): Row(Do.SUBMIT, A.SUBMITTED, "the start slot has come: record the submission, then submit"),
    (A.APPROVED, S.MISSED): Row(Do.MARK, A.FAILED, "its window ended before the executor could submit it"),
    **{(A.APPROVED, s): Row(Do.MARK, A.SUBMITTED, "the backend already holds its job (the store was restored): adopted")
       for s in (S.PENDING, S.PENDING_TOO_LONG, S.RUNNING, S.OUTLIVED, S.EXPIRED, S.SUCCEEDED, S.FAILED, S.STOPPED)},
    # submitted: the decision is persisted; the backend may or may not have the job
    (A.SUBMITTED, S.CLUSTER_STALE): Row(Do.MARK, A.STALE, "its cluster went stale while the job was queued"),
    (A.SUBMITTED, S.DUE): Row(Do.SUBMIT, None, "recorded but not on the backend (the submit was lost): same id again"),
    (A.SUBMITTED, S.NOT_YET): Row(Do.WAIT, None, "recorded early (clocks differ): the lost submit waits for the start"),
    (A.SUBMITTED, S.BACKING_OFF): Row(Do.WAIT, None, "the last submit failed; the retry waits for its backoff"),
    (A.SUBMITTED, S.RETRY_DUE): Row(Do.SUBMIT, None, "the last submit failed and its backoff is over: next attempt"),
    (A.SUBMITTED, S.EXHAUSTED): Row(Do.MARK, A.FAILED, "every submit attempt failed"),
    (A.SUBMITTED, S.MISSED): Row(Do.MARK, A.FAILED, "its window ended before the backend accepted the job"),
    (A.SUBMITTED, S.PENDING): Row(Do.WAIT, None, "the job waits for resources within its pending timeout"),
    # failed at once: Ray delivers the stop of a job whose supervisor was never placed only when it is placed
    (A.SUBMITTED, S.PENDING_TOO_LONG): Row(Do.STOP, A.FAILED, "pending past the timeout: the cluster lacks resources"),
    (A.SUBMITTED, S.RUNNING): Row(Do.MARK, A.RUNNING, "the backend reports the job running"),
    (A.SUBMITTED, S.OUTLIVED): Row(Do.STOP, None, "the job is still alive after its window and grace"),
    # failed at once, like a job pending too long: it never ran, and Ray holds the stop until it is placed
    (A.SUBMITTED, S.EXPIRED): Row(Do.STOP, A.FAILED, "the job never started within its window and grace"),
    (A.SUBMITTED, S.SUCCEEDED): Row(Do.MARK, A.SUCCEEDED, "the job ran and succeeded between two ticks"),
    (A.SUBMITTED, S.FAILED): Row(Do.MARK, A.FAILED, "the job failed before it was seen running"),
    (A.SUBMITTED, S.STOPPED): Row(Do.MARK, A.FAILED, "the job was stopped before it ran"),
    # running
    (A.RUNNING, S.CLUSTER_STALE): Row(Do.MARK, A.STALE, "its cluster went stale while the job ran: outcome unknown"),
    (A.RUNNING, S.RUNNING): Row(Do.WAIT, None, "the job runs within its window"),
    (A.RUNNING, S.OUTLIVED): Row(Do.STOP, None, "the job outlived its window and grace"),
    (A.RUNNING, S.SUCCEEDED): Row(Do.MARK, A.SUCCEEDED, "the job exited successfully"),
    (A.RUNNING, S.FAILED): Row(Do.MARK, A.FAILED, "the job exited with an error"),
    (A.RUNNING, S.STOPPED): Row(Do.MARK, A.FAILED, "the job was stopped"),
    (A.RUNNING, S.ABSENT): Row(Do.MARK, A.FAILED, "the backend no longer knows the job: lost"),
    # stale: the cluster went silent; when it is back, the backend's word settles the outcome
    (A.STALE, S.CLUSTER_STALE): Row(Do.WAIT, None, "the cluster is still stale"),
    (A.STALE, S.ABSENT): Row(Do.WAIT, None, "the cluster is back but its backend does not know the job"),
    (A.STALE, S.PENDING): Row(Do.MARK, A.SUBMITTED, "the cluster is back and the job is still queued"),
    (A.STALE, S.PENDING_TOO_LONG): Row(Do.MARK, A.SUBMITTED, "the cluster is back and the job is still queued"),
    (A.STALE, S.RUNNING): Row(Do.MARK, A.RUNNING, "the cluster is back and the job still runs"),
    (A.STALE, S.OUTLIVED): Row(Do.MARK, A.RUNNING, "the cluster is back and the job still runs (past its window)"),
    (A.STALE, S.EXPIRED): Row(Do.MARK, A.SUBMITTED, "the cluster is back; the job is still queued past its window"),
    (A.STALE, S.SUCCEEDED): Row(Do.MARK, A.SUCCEEDED, "the cluster is back: the job succeeded meanwhile"),
    (A.STALE, S.FAILED): Row(Do.MARK, A.FAILED, "the cluster is back: the job failed meanwhile"),
    (A.STALE, S.STOPPED): Row(Do.MARK, A.FAILED, "the cluster is back: the job was stopped meanwhile"),
}
EXECUTABLE = frozenset({A.APPROVED, A.SUBMITTED, A.RUNNING, A.STALE})


@dataclass(frozen=True)
class Action:
    """One decision for one allocation, with the row that made it.

    ``submission_id`` and ``attempt`` name the job to submit (SUBMIT), stop (STOP) or adopt (MARK);
    ``job`` is what the backend reported, if anything; ``replan`` flags the allocation for re-planning.
    """

    do: Do
    allocation: AllocationRecord
    to: AllocationState | None
    reason: str
    row: tuple[AllocationState, Situation]
    submission_id: str = ""
    attempt: int = 0
    job: ObservedJob | None = None
    replan: bool = False


@dataclass(frozen=True)
class Orphan:
    """A live job with Allmende's metadata that no desired allocation claims: left alone, reported.

    Finished jobs of finished allocations stay listed by the backend and are not orphans."""

    job: ObservedJob


def submission_id(allocation_id: str, attempt: int) -> str:
    """The job's id on the backend: the same allocation and attempt always give the same id."""
    return f"{allocation_id}-{attempt}"


def reconcile(desired: Sequence[Desired], observed: Mapping[str, ObservedJob], now: datetime,
              rules: Rules) -> list[Action | Orphan]:
    """Every action to take now (WAIT rows included), then the orphans, each in a stable order."""
    by_allocation: dict[str, list[ObservedJob]] = {}
    for job in sorted(observed.values(), key=lambda j: j.submission_id):
        by_allocation.setdefault(job.allocation_id, []).append(job)
    executing = _one_per_request(desired)
    out: list[Action | Orphan] = []
    for item in sorted(desired, key=lambda d: (d.window.start, d.allocation.id)):
        a = item.allocation
        mine = _job_of(a, by_allocation.get(a.id, []))
        where = situation(item, mine, now, rules, duplicate=a.id not in executing)
        row = TABLE.get((a.state, where))
        if row is not None:
            out.append(_action(item, mine, row, (a.state, where)))
    claimed = {d.allocation.id for d in desired}
    out += [Orphan(j) for j in sorted(observed.values(), key=lambda j: j.submission_id)
            if j.allocation_id not in claimed and not j.phase.terminal]
    return out


def situation(item: Desired, job: ObservedJob | None, now: datetime, rules: Rules, *,
              duplicate: bool = False) -> Situation:
    """The column of the table: read off the record, the job and the clock, in order of precedence."""
    a, ex = item.allocation, item.allocation.execution
    if duplicate and a.state == A.APPROVED:
        return S.DUPLICATE
    if item.cluster_stale:
        return S.CLUSTER_STALE
    if job is None:
        if a.state in (A.RUNNING, A.STALE):
            return S.ABSENT
        retrying = ex is not None and ex.next_attempt_at is not None
        if retrying and ex is not None and ex.attempts >= rules.max_attempts:
            return S.EXHAUSTED
        if now >= item.window.end:
            return S.MISSED
        if retrying and ex is not None and ex.next_attempt_at is not None:
            return S.BACKING_OFF if now < ex.next_attempt_at else S.RETRY_DUE
        return S.NOT_YET if now < item.window.start else S.DUE
    if job.phase.terminal:
        return {JobPhase.SUCCEEDED: S.SUCCEEDED, JobPhase.FAILED: S.FAILED}.get(job.phase, S.STOPPED)
    if now >= item.window.end + timedelta(seconds=rules.stop_grace_s):
        return S.OUTLIVED if job.phase == JobPhase.RUNNING else S.EXPIRED
    if job.phase == JobPhase.RUNNING:
        return S.RUNNING
    since = ex.submitted_at if ex is not None and ex.submitted_at is not None else item.window.start
    return S.PENDING_TOO_LONG if now - since > timedelta(seconds=rules.pending_timeout_s) else S.PENDING


def _one_per_request(desired: Iterable[Desired]) -> set[str]:
    """The allocation that may execute for each request: one already under way, else a pinned one,
    else the earliest (ties by id)."""
    best: dict[str, Desired] = {}
    for d in desired:
        held = best.get(d.allocation.request_id)
        if held is None or _rank(d) < _rank(held):
            best[d.allocation.request_id] = d
    return {d.allocation.id for d in best.values()}


def _rank(d: Desired) -> tuple[bool, bool, datetime, str]:
    a = d.allocation
    return (a.state == A.APPROVED, not a.pinned, d.window.start, a.id)


def _job_of(a: AllocationRecord, jobs: list[ObservedJob]) -> ObservedJob | None:
    """The job of the attempt on record, else another attempt's job for the same allocation (a live
    one first), so a submit that reached the backend is adopted rather than repeated."""
    if not jobs:
        return None
    recorded = a.execution.submission_id if a.execution is not None else ""
    for j in jobs:
        if j.submission_id == recorded:
            return j
    live = [j for j in jobs if not j.phase.terminal]
    return (live or jobs)[-1]


def _action(item: Desired, job: ObservedJob | None, row: Row, key: tuple[AllocationState, Situation]) -> Action:
    a, ex = item.allocation, item.allocation.execution
    attempts = ex.attempts if ex is not None else 0
    recorded = ex.submission_id if ex is not None else ""
    reason = row.why
    if key[1] == S.EXHAUSTED and ex is not None:
        reason = f"{row.why} ({attempts} of {attempts}): {ex.message}"
    elif key[1] == S.PENDING_TOO_LONG:
        reason = f"{row.why} (pending since {ex.submitted_at if ex else item.window.start:%Y-%m-%d %H:%M:%S})"
    elif key[1] == S.STOPPED and ex is not None and ex.message:
        reason = f"{row.why}: {ex.message}"  # the reason the executor recorded when it asked for the stop
    elif job is not None and job.message and row.do == Do.MARK and row.to == A.FAILED:
        reason = f"{row.why}: {job.message}"
    if row.do == Do.SUBMIT:
        attempt = attempts + 1 if key[1] == S.RETRY_DUE or attempts == 0 else attempts
        return Action(row.do, a, row.to, reason, key, submission_id(a.id, attempt), attempt)
    if job is not None:
        return Action(row.do, a, row.to, reason, key, job.submission_id, attempts, job,
                      replan=row.to == A.STALE)
    return Action(row.do, a, row.to, reason, key, recorded, attempts, replan=row.to == A.STALE)
