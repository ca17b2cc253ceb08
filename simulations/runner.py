"""Rolling rounds with the real solver: each round plans its own window, and what is not served waits.

Round ``k`` plans slots ``[k·R, (k+1)·R)``, in numbered phases:

1. sites      the sites online in the round, with maintenance and true grid carbon (``simulations.world``)
2. arrivals   new requests whose earliest slot falls in the window (``simulations.demand``)
3. backlog    new and carried requests; a request is offered when it can still run inside the window
              (``min(deadline, window end) − max(earliest, window start) ≥ fastest runtime``), else it waits
4. problem    offered requests cut to the window; a carbon-blind run hands the solver zero intensity
5. solve      ``solver.solve`` with the scenario's policy; with a budget of ``neighbourhoods`` the search
              stops after that many and the solver's clock is frozen, so a round is reproducible
              whatever the machine's load; without one, ``time_limit_s`` of wall time stops it
6. record     assignments become outcomes, with CO2 priced on the true profile; a request that was not
              served carries over to the next round until its deadline passes (precisely: until it could
              no longer finish by its deadline), then it is recorded as expired.  Requests still waiting
              when the run ends are ``open``.

A job must finish inside the round that places it: rounds are independent allocation calls.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulations.demand import DemandSource, GeneratedDemand, stream
from simulations.records import Outcome, RoundOutcome, RunResult
from simulations.scenario import Scenario
from simulations.world import World, build_world
from solver import Assignment, Plan, Problem, Request, SolveParams, solve
from solver.problem import Cluster, available

Clock = Callable[[], float]
OnRound = Callable[[int, int, RoundOutcome], None]


@dataclass
class Pending:
    request: Request  # absolute slots
    first_round: int
    offered: int = 0
    reason: str = ""


def run(
    scenario: Scenario,
    source: DemandSource | None = None,
    *,
    on_round: OnRound | None = None,
    clock: Clock = time.perf_counter,
) -> RunResult:
    s = scenario
    source = source or GeneratedDemand(s)
    world = build_world(s, source.work_per_round(), stream(s.seed, "sites"))
    R = s.round_slots
    backlog: list[Pending] = []
    outcomes: list[Outcome] = []
    rounds: list[RoundOutcome] = []
    for k in range(s.rounds):
        first = k * R
        clusters = world.clusters(k)  # 1
        new = [Pending(r, k) for r in source.arrivals(k, world.horizon(k), clusters, world.gpu_types)]  # 2
        carried = len(backlog)
        pool = backlog + new  # 3
        offered = [p for p in pool if _fits_window(p.request, first, first + R)]
        problem = _problem(world, k, clusters, offered)  # 4
        t0 = clock()
        plan = solve_round(problem, s)  # 5
        seconds = clock() - t0
        served = {a.request: a for a in plan.assignments}  # 6
        reasons = {x.request: x.reason for x in plan.rejected}
        backlog, done, expired = [], [], 0
        for p in pool:
            was_offered = p.request.id in reasons or p.request.id in served
            p.offered += was_offered
            p.reason = reasons.get(p.request.id, p.reason)
            if p.request.id in served:
                done.append(_served(p, served[p.request.id], k, first, clusters, s.slot_hours))
            elif _alive(p.request, first + R):
                backlog.append(p)
            else:
                outcomes.append(_closed(p, "expired", s.slot_hours))
                expired += 1
        outcomes += done
        record = _record(world, k, problem, plan, clusters, offered, done, len(new), carried, expired, seconds)
        rounds.append(record)
        if on_round is not None:
            on_round(k + 1, s.rounds, record)
    outcomes += [_closed(p, "open", s.slot_hours) for p in backlog]
    outcomes.sort(key=lambda o: o.id)
    return RunResult(
        scenario=s.name,
        seed=s.seed,
        start=s.start,
        slot_minutes=s.slot_minutes,
        round_slots=R,
        clusters=sorted(life.cluster.id for life in world.sites),
        installed_gpu_hours=_installed(world),
        rounds=rounds,
        outcomes=outcomes,
    )


def solve_round(problem: Problem, scenario: Scenario) -> Plan:
    """One round's plan; with a neighbourhood budget, on a frozen clock so that only the budget stops it."""
    spec = scenario.solver
    params = SolveParams(time_limit_s=spec.time_limit_s, workers=1, seed=scenario.seed, deterministic=True,
                         neighbourhood_dtime=spec.neighbourhood_dtime, lp_bound=spec.lp_bound,
                         max_neighbourhoods=spec.neighbourhoods)
    if spec.neighbourhoods is None:
        return solve(problem, spec.policy, params)
    return solve(problem, spec.policy, params, clock=_frozen)


def _frozen() -> float:
    return 0.0


def _fits_window(r: Request, a: int, b: int) -> bool:
    return min(r.deadline_slot or b, b) - max(r.earliest_slot, a) >= r.fastest_runtime


def _alive(r: Request, now: int) -> bool:
    """Can ``r`` still finish by its deadline if it starts no earlier than ``now``?"""
    return r.deadline_slot is None or r.deadline_slot - max(r.earliest_slot, now) >= r.fastest_runtime


def _problem(world: World, k: int, clusters: list[Cluster], offered: list[Pending]) -> Problem:
    s = world.scenario
    first, R = k * s.round_slots, s.round_slots
    requests = [
        p.request.model_copy(
            update={
                "earliest_slot": max(0, p.request.earliest_slot - first),
                "deadline_slot": min(R, (p.request.deadline_slot or first + R) - first),
            }
        )
        for p in offered
    ]
    policy = world.policy(k, clusters)
    if not s.carbon.aware:
        clusters = [c.model_copy(update={"carbon_intensity": 0.0}) for c in clusters]
    return Problem(horizon=world.horizon(k), gpu_types=world.gpu_types, clusters=clusters, requests=requests,
                   policy=policy)


def co2_kg(energy_kwh: float, intensity: list[float], start: int, end: int) -> float:
    """Energy spread evenly over ``[start, end)``, priced at each slot's grid intensity (gCO2e/kWh)."""
    return energy_kwh / (end - start) * float(sum(intensity[start:end])) / 1000.0


def _served(p: Pending, a: Assignment, k: int, first: int, clusters: list[Cluster], slot_h: float) -> Outcome:
    r = p.request
    cluster = next(c for c in clusters if c.id == a.cluster)
    intensity = cluster.carbon_intensity if isinstance(cluster.carbon_intensity, list) else []
    return Outcome(
        id=r.id, org=r.org, category=r.category, gpus=r.gpus, arrival_slot=r.earliest_slot,
        deadline_slot=r.deadline_slot or -1, work_gpu_h=r.gpus * r.fastest_runtime * slot_h,
        first_round=p.first_round, rounds_offered=p.offered, status="served", served_round=k,
        cluster=a.cluster, gpu_type=a.gpu_type, start_slot=first + a.start_slot, end_slot=first + a.end_slot,
        gpu_hours=r.gpus * (a.end_slot - a.start_slot) * slot_h, energy_kwh=a.energy_kwh,
        co2_kg=co2_kg(a.energy_kwh, intensity, a.start_slot, a.end_slot),
    )


def _closed(p: Pending, status: str, slot_h: float) -> Outcome:
    r = p.request
    return Outcome(
        id=r.id, org=r.org, category=r.category, gpus=r.gpus, arrival_slot=r.earliest_slot,
        deadline_slot=r.deadline_slot or -1, work_gpu_h=r.gpus * r.fastest_runtime * slot_h,
        first_round=p.first_round, rounds_offered=p.offered, status="expired" if status == "expired" else "open",
        last_reason=p.reason,
    )


def _record(world: World, k: int, problem: Problem, plan: Plan, clusters: list[Cluster], offered: list[Pending],
            served_now: list[Outcome], new: int, carried: int, expired: int, seconds: float) -> RoundOutcome:
    s = world.scenario
    first, R, spd = k * s.round_slots, s.round_slots, s.slots_per_day
    day = (first + np.arange(R)) // spd - first // spd
    used = {c.id: np.zeros(R) for c in clusters}
    by_id = {p.request.id: p.request for p in offered}
    for a in plan.assignments:
        used[a.cluster][a.start_slot : a.end_slot] += by_id[a.request].gpus
    days = int(day[-1]) + 1
    daily_used = {c: np.bincount(day, weights=u, minlength=days) * s.slot_hours for c, u in used.items()}
    daily_offered = {
        c.id: np.bincount(day, weights=np.sum([available(c, g, R) for g in c.gpus], axis=0), minlength=days)
        * s.slot_hours for c in clusters
    }
    m = plan.metrics
    return RoundOutcome(
        round=k, start=problem.horizon.start, new=new, carried=carried, offered=len(offered),
        assigned=len(plan.assignments), expired=expired,
        offered_by_category=dict(sorted(Counter(p.request.category for p in offered).items())),
        assigned_by_category=dict(sorted(Counter(o.category for o in served_now).items())),
        attainment=dict(sorted(m.attainment.items())), min_attainment=m.min_attainment, gpu_hours=m.gpu_hours,
        capacity_gpu_hours=problem.gpu_hour_capacity(), energy_mwh=m.energy_mwh,
        energy_budget_mwh=problem.policy.energy_budget_mwh, co2_t=sum(o.co2_kg for o in served_now) / 1000.0,
        carbon_budget_t=problem.policy.carbon_budget_t, utilisation=dict(sorted(m.utilisation.items())),
        first_day=first // spd, daily_used_gpu_h={c: v.round(6).tolist() for c, v in sorted(daily_used.items())},
        daily_offered_gpu_h={c: v.round(6).tolist() for c, v in sorted(daily_offered.items())},
        solver_seconds=round(seconds, 4),
    )


def _installed(world: World) -> float:
    s = world.scenario
    return sum(
        sum(life.cluster.gpus.values()) * max(0, min(life.retire_slot, s.total_slots) - max(life.online_slot, 0))
        for life in world.sites
    ) * s.slot_hours
