"""Why a request got what it got, and whether a stored plan still comes out the same when solved again.

Both are computed on demand from the stored problem and the allocations that stand,
outside any transaction: the counterfactual and the replay are solver work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from scheduler import ledger, phases, rounds
from scheduler.access import Principal
from scheduler.domain import AllocationRecord, RoundRecord
from scheduler.errors import NotFound, PolicyViolation
from scheduler.solving import SolverRunner
from scheduler.usecases.standing import STANDING
from solver.counterfactuals import counterfactual
from solver.plan import Counterfactual, Plan
from solver.problem import Horizon


@dataclass(frozen=True)
class Explanation:
    round_id: str
    horizon: Horizon  # the round's, to show an assignment's slots as instants
    request_id: str
    assignment: AllocationRecord | None
    reason: str = ""
    detail: str = ""
    counterfactual: Counterfactual | None = None


@dataclass(frozen=True)
class Replay:
    round_id: str
    stored: Plan
    replayed: Plan
    differences: list[rounds.Difference]
    stored_ortools_version: str
    current_ortools_version: str


async def explain(who: Principal, record: RoundRecord, held: list[AllocationRecord], request_id: str) -> Explanation:
    """The standing allocation of the request, or the solver's reason and the smallest change that would place it."""
    if record.problem is None or record.plan is None:
        raise PolicyViolation(f"round {record.id!r} has no plan yet ({record.state})")
    request = next((q for q in record.problem.requests if q.id == request_id), None)
    if request is None:
        raise NotFound("request in round", request_id)
    if who.is_applicant and who.org != request.org:  # as an unknown id: ids reveal nothing
        raise NotFound("request in round", request_id)
    standing = [a for a in held if a.state in STANDING]
    mine = next((a for a in standing if a.request_id == request_id), None)
    if mine is not None:
        return Explanation(record.id, record.horizon, request_id, mine)
    rejection = next((r for r in record.plan.rejected if r.request == request_id), None)
    if rejection is None:
        return Explanation(record.id, record.horizon, request_id, None, ledger.REVIEW_REJECTED,
                           "an operator rejected it in review")
    placed = rounds.placements([(a.request_id, a.cluster, a.gpu_type, a.start_slot) for a in standing])
    change = await asyncio.to_thread(counterfactual, record.problem, placed, request_id)
    return Explanation(record.id, record.horizon, request_id, None, rejection.reason, rejection.detail, change)


async def replay(runner: SolverRunner, record: RoundRecord, held: list[AllocationRecord]) -> Replay:
    """The stored problem solved again with today's OR-Tools, the standing pins held, compared with the stored plan."""
    if record.problem is None or record.plan is None:
        raise PolicyViolation(f"round {record.id!r} has no stored plan to replay ({record.state})")
    pins = [phases.pin_of(a) for a in held if a.pinned and a.state in STANDING]
    replayed = await runner.solve(record.problem, record.objective, record.params, pins)
    return Replay(record.id, record.plan, replayed, rounds.differences(record.plan, replayed),
                  record.ortools_version or "", phases.ORTOOLS_VERSION)
