"""Solving a round around pinned assignments: force some, re-solve the rest.

The solver takes a problem and returns a plan; it has no notion of a fixed
assignment.  So a pin is honoured by reserving its resources and solving what is
left, then checking the union against the original problem:

1. place      each pin on the original problem's ledger; a pin that breaks a hard
              rule on its own (capacity, window, country, power, budgets) is a
              :class:`~scheduler.errors.PolicyViolation`, before anything is solved;
2. reserve    the rest problem: pinned requests removed; their GPUs withdrawn from
              their pool over ``[s, e)``; their peak draw taken off each capped
              cluster's power cap (conservative: the cap is constant over time);
              their energy and CO2 taken off the budgets; the organisation cap kept
              at the same absolute GPU-hours;
3. solve      the rest problem with the round's policy and parameters;
4. combine    pins plus the rest's assignments on one ledger of the original
              problem, decoded by the solver (energy, CO2, reasons, metrics);
5. repair     the organisation cap cannot be reserved per organisation, so if the
              union breaks a rule, the unpinned assignments named by ``verify``
              (else the largest of the organisation over its cap) are dropped
              until ``verify`` is silent.

The result is valid by construction of step 5 and identical to a plain solve when
there are no pins.  Pure: no store, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.errors import PolicyViolation
from solver import Plan, Problem, Progress, SolveParams, solve
from solver.index import Index, compile_problem
from solver.ledger import Ledger, Placement
from solver.metrics import fits_alone
from solver.plan import Assignment
from solver.policies import Context
from solver.problem import Unavailability
from solver.search import decode
from solver.verify import verify

MAX_REPAIRS = 200


@dataclass(frozen=True)
class Pinned:
    request: str
    cluster: str
    gpu_type: str
    start_slot: int


def solve_with_pins(problem: Problem, objective: str, params: SolveParams, pins: Sequence[Pinned],
                    on_progress: Callable[[Progress], None] | None = None) -> Plan:
    if not pins:
        return solve(problem, objective, params, on_progress=on_progress)
    index = compile_problem(problem)
    pinned = place_pins(index, pins)
    rest_plan = solve(reserve(problem, index, pinned), objective, params, on_progress=on_progress)
    ledger = Ledger(index)
    pos = {rid: i for i, rid in enumerate(index.req_ids)}
    for r, p in pinned.items():
        ledger.place(r, p)
    for a in rest_plan.assignments:
        r = pos[a.request]
        ledger.place(r, Placement(_option(index, r, a.cluster, a.gpu_type), a.start_slot))
    ctx = Context.build(index, fits_alone(index))
    plan = _repair(problem, ctx, ledger, set(pinned), objective)
    return plan.model_copy(update={"solver": rest_plan.solver})


def place_pins(index: Index, pins: Sequence[Pinned]) -> dict[int, Placement]:
    """The pins as placements on the original problem, each checked against every hard rule together."""
    pos = {rid: i for i, rid in enumerate(index.req_ids)}
    placed: dict[int, Placement] = {}
    for pin in pins:
        r = pos.get(pin.request)
        if r is None:
            raise PolicyViolation(f"request {pin.request!r} is not part of this round")
        if r in placed:
            raise PolicyViolation(f"request {pin.request!r} is pinned twice")
        placed[r] = Placement(_option(index, r, pin.cluster, pin.gpu_type), pin.start_slot)
    problem = index.problem
    only = problem.model_copy(update={"requests": [q for q in problem.requests if q.id in {p.request for p in pins}]})
    plan = Plan(assignments=[_assignment(index, r, p) for r, p in placed.items()])
    broken = [v for v in verify(only, plan) if v.rule != 1]
    if broken:
        raise PolicyViolation("the pin breaks a hard rule: " + "; ".join(str(v) for v in broken[:3]))
    return placed


def reserve(problem: Problem, index: Index, pinned: dict[int, Placement]) -> Problem:
    """The problem left for the other requests once the pins hold their resources."""
    windows: dict[str, list[Unavailability]] = defaultdict(list)
    draw = np.zeros((len(index.cluster_ids), index.slots))
    energy_kwh = co2_g = 0.0
    for r, p in pinned.items():
        o = index.options[r][p.option]
        cluster = index.cluster_ids[o.cluster]
        gpu_type = index.pool_type[o.pool]
        end = p.start + o.runtime
        windows[cluster].append(Unavailability(gpu_type=gpu_type, gpus=int(index.gpus[r]), from_slot=p.start,
                                               to_slot=end))
        draw[o.cluster, p.start:end] += o.power_w
        energy_kwh += o.energy_kwh
        co2_g += index.co2_g(o, p.start)
    peak_kw = {cid: float(draw[i].max()) / 1000.0 for i, cid in enumerate(index.cluster_ids)}
    clusters = []
    for c in problem.clusters:
        update: dict[str, object] = {"unavailable": [*c.unavailable, *windows.get(c.id, [])]}
        if c.power_cap_kw is not None and peak_kw.get(c.id, 0.0) > 0:
            update["power_cap_kw"] = max(c.power_cap_kw - peak_kw[c.id], 1e-6)
        clusters.append(c.model_copy(update=update))
    pol = problem.policy
    policy_update: dict[str, object] = {}
    if pol.energy_budget_mwh is not None:
        policy_update["energy_budget_mwh"] = max(0.0, pol.energy_budget_mwh - energy_kwh / 1000.0)
    if pol.carbon_budget_t is not None:
        policy_update["carbon_budget_t"] = max(0.0, pol.carbon_budget_t - co2_g / 1e6)
    pinned_ids = {index.req_ids[r] for r in pinned}
    rest = problem.model_copy(update={
        "clusters": clusters,
        "requests": [q for q in problem.requests if q.id not in pinned_ids],
    })
    if pol.org_cap_share is not None:
        capacity = rest.gpu_hour_capacity()
        absolute = pol.org_cap_share * problem.gpu_hour_capacity()
        policy_update["org_cap_share"] = min(1.0, absolute / capacity) if capacity > 0 else 1.0
    rest = rest.model_copy(update={"policy": pol.model_copy(update=policy_update)})
    return Problem.model_validate(rest.model_dump())  # re-checked as a whole


def _repair(problem: Problem, ctx: Context, ledger: Ledger, pinned: set[int], objective: str) -> Plan:
    index = ctx.index
    pos = {rid: i for i, rid in enumerate(index.req_ids)}
    for _ in range(MAX_REPAIRS):
        plan = decode(ctx, ledger, objective)
        broken = verify(problem, plan)
        if not broken:
            return plan
        named = {pos[v.request] for v in broken if v.request in pos} - pinned
        if not named:
            movable = [r for r in ledger.placed if r not in pinned]
            if not movable:
                break
            named = {max(movable, key=lambda r: (index.options[r][ledger.placed[r].option].gpu_hours, r))}
        for r in named:
            if r in ledger.placed:
                ledger.remove(r)
    raise PolicyViolation("could not fit the other requests around the pins without breaking a hard rule")


def _option(index: Index, r: int, cluster: str, gpu_type: str) -> int:
    for k, o in enumerate(index.options[r]):
        if index.cluster_ids[o.cluster] == cluster and index.pool_type[o.pool] == gpu_type:
            return k
    raise PolicyViolation(
        f"request {index.req_ids[r]!r} cannot run on {cluster}/{gpu_type}: the cluster does not have that "
        f"type, the request does not accept it, or the cluster is outside its countries"
    )


def _assignment(index: Index, r: int, p: Placement) -> Assignment:
    o = index.options[r][p.option]
    return Assignment(request=index.req_ids[r], cluster=index.cluster_ids[o.cluster], gpu_type=index.pool_type[o.pool],
                      start_slot=p.start, end_slot=p.start + o.runtime)


