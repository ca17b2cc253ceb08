"""Review of a proposed round: approve or reject allocations (or the whole round), pin one, publish.

A verdict on named requests changes only their allocations, while the round is
``proposed``; a verdict with no names covers every allocation under review and moves
the round itself.  A rejected round returns its requests to the pool; a published one
settles each request: ``allocated`` if an approved allocation holds it, else ``rejected``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scheduler.access import SYSTEM, Principal
from scheduler.domain import RoundRecord
from scheduler.errors import NotFound, PolicyViolation
from scheduler.states import AllocationState, RequestState, RoundState
from scheduler.store import AllocationQuery, Transaction
from scheduler.store.pages import allocations, in_round
from scheduler.usecases.standing import UNDER_REVIEW
from solver.problem import Pin

VERDICTS = {  # allocation verdict -> (audit action, the round's state when the verdict covers it all)
    AllocationState.APPROVED: ("approve", RoundState.APPROVED),
    AllocationState.REJECTED: ("reject", RoundState.REJECTED),
}


def review(t: Transaction, who: Principal, round_id: str, request_ids: Sequence[str], verdict: AllocationState,
           reason: str, now: datetime) -> RoundRecord:
    """``verdict`` on the named allocations, or on all of them and the round; unknown names change nothing."""
    verb, round_to = VERDICTS[verdict]
    stored = t.get_round(round_id)
    if not request_ids and stored.state == round_to:
        return stored  # the same verdict again: an idempotent no-op, no write and no audit entry
    by = who.change(verb, now, reason)
    active = {a.request_id: a for a in allocations(t, AllocationQuery(round_id=round_id, states=UNDER_REVIEW))}
    if request_ids and stored.state != RoundState.PROPOSED:
        raise PolicyViolation(f"round {round_id!r} is {stored.state}: single allocations are reviewed "
                              "only while it is proposed")
    for rid in request_ids or sorted(active):
        if rid not in active:
            raise NotFound("allocation under review", f"{round_id}/{rid}")
        t.update_allocation(active[rid].model_copy(update={"state": verdict}), by)
    if request_ids:
        return stored
    record = t.update_round(stored.model_copy(update={"state": round_to}), by)
    if round_to == RoundState.REJECTED:
        back = SYSTEM.change("round_rejected", now, f"round {round_id} rejected: {reason}")
        for r in in_round(t, round_id):
            t.update_request(r.model_copy(update={"state": RequestState.SUBMITTED, "round_id": None}), back)
    return record


def start_pin(t: Transaction, who: Principal, read: RoundRecord, pin: Pin, reason: str,
              now: datetime) -> RoundRecord:
    """``proposed -> solving`` for the re-solve around ``pin``; ``read`` is the round as the pin was checked."""
    text = f"{pin.request} on {pin.cluster}/{pin.gpu_type} at slot {pin.start_slot}: {reason}"
    return t.update_round(read.model_copy(update={"state": RoundState.SOLVING}), who.change("pin", now, text))


def publish(t: Transaction, who: Principal, round_id: str, reason: str, now: datetime) -> RoundRecord:
    """``-> published``; each request of the round is settled by whether an approved allocation holds it."""
    stored = t.get_round(round_id)
    if stored.state == RoundState.PUBLISHED:
        return stored  # published again: an idempotent no-op that keeps the public date
    record = t.update_round(stored.model_copy(update={"state": RoundState.PUBLISHED}),
                            who.change("publish", now, reason))
    approved = AllocationQuery(round_id=round_id, states=frozenset({AllocationState.APPROVED}))
    granted = {a.request_id for a in allocations(t, approved)}
    by = SYSTEM.change("published", now, f"round {round_id}")
    for r in in_round(t, round_id):
        state = RequestState.ALLOCATED if r.id in granted else RequestState.REJECTED
        t.update_request(r.model_copy(update={"state": state}), by)
    return record
