"""The units of work of a round's phases: each runs inside one store transaction, all or nothing.

:mod:`scheduler.usecases.rounds` sequences them (snapshot, solve, persist; fail on an
error; recover on start) and does the waiting; these functions only read and write
through the :class:`~scheduler.store.Transaction` they are given, with the instant
``now`` the caller took from its clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version

from scheduler import rounds
from scheduler.access import SYSTEM, Principal
from scheduler.domain import AllocationRecord, RoundRecord, new_id
from scheduler.errors import PolicyViolation
from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from scheduler.store import AllocationQuery, ClusterQuery, RequestQuery, RoundQuery, Transaction
from scheduler.store.pages import all_pages, allocations, in_round
from solver.plan import Assignment, Plan
from solver.problem import Pin

ORTOOLS_VERSION = version("ortools")


def snapshot(t: Transaction, who: Principal, round_id: str, reason: str, now: datetime) -> RoundRecord:
    """Phase 1: ``open|failed -> solving``; the problem from active clusters and submitted requests, stored.

    A request left out of the problem stays ``submitted``, its ``waiting`` saying why and naming this round (an
    audited write, so the log shows every round that left it out).
    """
    stored = t.get_round(round_id)
    if stored.state not in (RoundState.OPEN, RoundState.FAILED):
        raise PolicyViolation(f"round {round_id!r} is {stored.state}: only an open or failed round is run "
                              "(pin an allocation to re-solve a proposed one)")
    clusters = all_pages(lambda p: t.list_clusters(ClusterQuery(states=frozenset({ClusterState.ACTIVE})), p))
    requests = all_pages(lambda p: t.list_requests(RequestQuery(states=frozenset({RequestState.SUBMITTED})), p))
    snap = rounds.build_problem(stored, clusters, requests)
    taken = {q.id for q in snap.problem.requests}
    record = t.update_round(stored.model_copy(update={
        "state": RoundState.SOLVING, "problem": snap.problem, "plan": None, "error": None,
        "ortools_version": ORTOOLS_VERSION,
    }), who.change("run", now, reason))
    joined = SYSTEM.change("join_round", now, f"snapshot of round {round_id}")
    for r in requests:
        if r.id in taken:
            t.update_request(r.model_copy(update={"state": RequestState.IN_ROUND, "round_id": round_id,
                                                  "waiting": ""}), joined)
        elif r.id in snap.left_out and r.waiting != (why := f"{snap.left_out[r.id]} (round {round_id})"):
            t.update_request(r.model_copy(update={"waiting": why}), SYSTEM.change("left_out", now, why))
    return record


def persist(t: Transaction, round_id: str, plan: Plan, pins: Sequence[Pin], now: datetime) -> None:
    """Phase 3: the plan stored, its assignments as ``proposed`` allocations (pins ``pinned``), ``-> proposed``.

    A re-solve supersedes the proposals of the previous plan; a pin that was replaced is rejected.
    """
    stored = t.get_round(round_id)
    by = SYSTEM.change("solved", now, f"{len(plan.assignments)} assigned, {len(plan.rejected)} rejected")
    pinned = {p.request for p in pins}
    held = set()
    for a in allocations(t, AllocationQuery(round_id=round_id)):
        if a.state == AllocationState.PROPOSED:
            t.update_allocation(a.model_copy(update={"state": AllocationState.SUPERSEDED}), by)
        elif a.state == AllocationState.PINNED and pin_of(a) not in pins:
            t.update_allocation(a.model_copy(update={"state": AllocationState.REJECTED}), by)
        elif a.state == AllocationState.PINNED:
            held.add(a.request_id)
    t.add_allocations([allocation(round_id, x) for x in plan.assignments if x.request not in pinned], by)
    for x in plan.assignments:
        if x.request in pinned and x.request not in held:
            made = t.add_allocations([allocation(round_id, x)], by)[0]
            t.update_allocation(made.model_copy(update={"state": AllocationState.PINNED, "pinned": True}), by)
    t.set_round_progress(round_id, 1.0, "done")
    t.update_round(stored.model_copy(update={"state": RoundState.PROPOSED, "plan": plan}), by)


def fail(t: Transaction, round_id: str, error: str, previous: RoundRecord | None, now: datetime) -> None:
    """``solving -> failed`` and the requests back to the pool; after a pin, back to the plan it had."""
    stored = t.get_round(round_id)
    by = SYSTEM.change("solve_failed", now, error)
    if previous is not None:
        t.update_round(stored.model_copy(update={"state": RoundState.PROPOSED, "plan": previous.plan,
                                                 "error": error}), by)
        return
    t.update_round(stored.model_copy(update={"state": RoundState.FAILED, "error": error}), by)
    for r in in_round(t, round_id):
        t.update_request(r.model_copy(update={"state": RequestState.SUBMITTED, "round_id": None}), by)


def recover(t: Transaction, now: datetime) -> list[str]:
    """Rounds a stopped server left ``solving``: failed, or (mid re-solve after a pin) back to their plan."""
    stuck = all_pages(lambda p: t.list_rounds(RoundQuery(states=frozenset({RoundState.SOLVING})), p))
    for r in stuck:
        fail(t, r.id, "the service stopped during the solve", r if r.plan is not None else None, now)
    return [r.id for r in stuck]


def allocation(round_id: str, a: Assignment) -> AllocationRecord:
    return AllocationRecord(id=new_id("alloc"), round_id=round_id, request_id=a.request, cluster=a.cluster,
                            gpu_type=a.gpu_type, start_slot=a.start_slot, end_slot=a.end_slot,
                            energy_kwh=a.energy_kwh, co2_kg=a.co2_kg)


def pin_of(a: AllocationRecord) -> Pin:
    return Pin(request=a.request_id, cluster=a.cluster, gpu_type=a.gpu_type, start_slot=a.start_slot)
