"""What the solver tests share: deterministic solve parameters, and the plan's figures recomputed from the problem
alone, as the contract defines them (never through solver code)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from solver.params import SolveParams
from solver.plan import Assignment, Plan
from solver.problem import Cluster, Problem, Request
from solver.verify import verify

PARAMS = SolveParams(
    time_limit_s=20, workers=1, seed=0, deterministic=True, max_neighbourhoods=3, neighbourhood_dtime=0.5
)
PROPERTY = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
EXAMPLE = Path(__file__).resolve().parents[2] / "solver" / "examples" / "example.yaml"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "solver"


# Figures recomputed from the problem, as the contract defines them ---------------------------------------------------


def work(problem: Problem, r: Request) -> float:
    return r.gpus * min(r.runtime_slots.values()) * problem.horizon.slot_hours


def value_of(problem: Problem, plan: Plan) -> float:
    by_id = {r.id: r for r in problem.requests}
    return sum(by_id[a.request].merit * work(problem, by_id[a.request]) for a in plan.assignments)


def kw_of(problem: Problem, r: Request, gpu_type: str) -> float:
    return r.gpus * problem.gpu_types[gpu_type].tdp_watts / 1000.0


def energy_kwh(problem: Problem, r: Request, c: Cluster, gpu_type: str, start: int, end: int) -> float:
    return kw_of(problem, r, gpu_type) * problem.horizon.slot_hours * (end - start) * c.pue


def co2_g(problem: Problem, r: Request, c: Cluster, gpu_type: str, start: int, end: int) -> float:
    per_slot = kw_of(problem, r, gpu_type) * problem.horizon.slot_hours * c.pue
    return sum(per_slot * c.intensity(t) for t in range(start, end))


def outcome(plan: Plan) -> dict[str, str]:
    """Each request's fate: 'assigned' or its rejection reason."""
    return {a.request: "assigned" for a in plan.assignments} | {x.request: x.reason for x in plan.rejected}


def placed(plan: Plan, rid: str) -> Assignment:
    return next(a for a in plan.assignments if a.request == rid)


def check_figures(problem: Problem, plan: Plan) -> None:
    """Everything a plan must say truthfully: validity, coverage, value, the bound, energy and CO2."""
    assert verify(problem, plan) == []
    seen = Counter([a.request for a in plan.assignments] + [x.request for x in plan.rejected])
    assert seen == Counter(r.id for r in problem.requests)
    assert plan.metrics.value == pytest.approx(value_of(problem, plan), rel=1e-9, abs=1e-9)
    assert plan.solver.bound >= plan.metrics.value - 1e-6
    by_id = {r.id: r for r in problem.requests}
    clusters = {c.id: c for c in problem.clusters}
    for a in plan.assignments:
        r, c = by_id[a.request], clusters[a.cluster]
        assert a.energy_kwh == pytest.approx(energy_kwh(problem, r, c, a.gpu_type, a.start_slot, a.end_slot), abs=1e-6)
        grams = co2_g(problem, r, c, a.gpu_type, a.start_slot, a.end_slot)
        assert a.co2_kg == pytest.approx(grams / 1000.0, rel=1e-9, abs=1e-6)
    assert plan.metrics.energy_mwh == pytest.approx(sum(a.energy_kwh for a in plan.assignments) / 1000, abs=1e-6)
