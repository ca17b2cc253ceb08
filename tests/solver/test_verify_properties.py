"""The independent checker on random plans: sequential placements verify clean, every overload and every
dropped request is caught, and arbitrary plans break exactly the rules a brute-force check finds; the golden
problem/plan pairs still verify as recorded."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solver.files import load_plan, load_problem
from solver.plan import Assignment, Plan
from solver.problem import Problem, available
from solver.verify import verify
from tests.solver.verify_cases import CASES, plan, rules
from tests.strategies import arbitrary_plans, problems, valid_plans

# Properties -----------------------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_sequential_placement_verifies_clean(data: st.DataObject) -> None:
    problem = data.draw(problems())
    assert verify(problem, data.draw(valid_plans(problem))) == []


def _used(problem: Problem, assignments: list[Assignment]) -> dict[tuple[str, str, int], int]:
    gpus = {r.id: r.gpus for r in problem.requests}
    used: dict[tuple[str, str, int], int] = defaultdict(int)
    for a in assignments:
        for t in range(a.start_slot, a.end_slot):
            used[(a.cluster, a.gpu_type, t)] += gpus[a.request]
    return used


def _overloading_moves(problem: Problem, the_plan: Plan) -> list[Plan]:
    """Every move of one assignment to a (cluster, start) of its type where some slot would overflow."""
    slots = problem.horizon.slots
    free = {(c.id, g, t): n for c in problem.clusters for g in c.gpus for t, n in enumerate(available(c, g, slots))}
    gpus = {r.id: r.gpus for r in problem.requests}
    moves = []
    for i, a in enumerate(the_plan.assignments):
        others = the_plan.assignments[:i] + the_plan.assignments[i + 1 :]
        used = _used(problem, others)
        length = a.end_slot - a.start_slot
        for c in problem.clusters:
            if c.gpus.get(a.gpu_type, 0) <= 0:
                continue
            for s in range(slots - length + 1):
                if any(
                    used[(c.id, a.gpu_type, t)] + gpus[a.request] > free[(c.id, a.gpu_type, t)]
                    for t in range(s, s + length)
                ):
                    moved = a.model_copy(update={"cluster": c.id, "start_slot": s, "end_slot": s + length})
                    moves.append(the_plan.model_copy(update={"assignments": [*others[:i], moved, *others[i:]]}))
    return moves


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_moving_one_assignment_into_a_full_slot_is_caught(data: st.DataObject) -> None:
    problem = data.draw(problems(max_requests=12, max_slots=24))
    moves = _overloading_moves(problem, data.draw(valid_plans(problem)))
    assume(moves)
    assert 5 in rules(verify(problem, data.draw(st.sampled_from(moves))))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_dropping_any_request_is_caught_and_named(data: st.DataObject) -> None:
    problem = data.draw(problems())
    full = data.draw(valid_plans(problem))
    gone = data.draw(st.sampled_from([r.id for r in problem.requests]))
    partial = Plan(
        assignments=[a for a in full.assignments if a.request != gone],
        rejected=[x for x in full.rejected if x.request != gone],
    )
    assert [(v.rule, v.request) for v in verify(problem, partial)] == [(1, gone)]


def _brute_force_rules(problem: Problem, the_plan: Plan) -> set[int]:
    """The rules, slot by slot with dictionaries: slow, obvious, and shaped nothing like verify()."""
    tol = 1e-6

    def over(value: float, limit: float) -> bool:
        return value > limit + tol + 1e-9 * abs(limit)

    broken: set[int] = set()
    requests = {r.id: r for r in problem.requests}
    clusters = {c.id: c for c in problem.clusters}
    seen = [a.request for a in the_plan.assignments] + [x.request for x in the_plan.rejected]
    if sorted(seen) != sorted(requests) or any(not x.detail.strip() for x in the_plan.rejected):
        broken.add(1)
    slots, h = problem.horizon.slots, problem.horizon.slot_hours
    used: dict[tuple[str, str, int], int] = defaultdict(int)
    kw: dict[tuple[str, int], float] = defaultdict(float)
    org_hours: dict[str, float] = defaultdict(float)
    kwh = grams = 0.0
    for a in the_plan.assignments:
        r, c = requests.get(a.request), clusters.get(a.cluster)
        if r is None:
            continue
        if c is not None and r.countries is not None and c.country not in r.countries:
            broken.add(3)
        if (
            a.end_slot - a.start_slot != r.runtime_slots.get(a.gpu_type, a.end_slot - a.start_slot)
            or a.start_slot < r.earliest_slot
            or a.end_slot > problem.deadline(r)
        ):
            broken.add(4)
        if c is None or a.gpu_type not in r.runtime_slots or c.gpus.get(a.gpu_type, 0) == 0:
            broken.add(2)
            continue
        draw_kw = r.gpus * problem.gpu_types[a.gpu_type].tdp_watts / 1000
        for t in range(a.start_slot, min(a.end_slot, slots)):
            used[(c.id, a.gpu_type, t)] += r.gpus
            kw[(c.id, t)] += draw_kw
            grams += draw_kw * h * c.pue * c.intensity(t)
        kwh += draw_kw * h * c.pue * (a.end_slot - a.start_slot)
        org_hours[r.org] += r.gpus * (a.end_slot - a.start_slot) * h
    capacity = 0
    for c in problem.clusters:
        for g in c.gpus:
            for t, n in enumerate(available(c, g, slots)):
                capacity += n
                if used[(c.id, g, t)] > n:
                    broken.add(5)
            for t in range(slots):
                if c.power_cap_kw is not None and over(kw[(c.id, t)], c.power_cap_kw):
                    broken.add(6)
    pol = problem.policy
    if pol.energy_budget_mwh is not None and over(kwh, 1000 * pol.energy_budget_mwh):
        broken.add(7)
    if pol.carbon_budget_t is not None and over(grams, 1e6 * pol.carbon_budget_t):
        broken.add(8)
    if pol.org_cap_share is not None and any(over(v, pol.org_cap_share * capacity * h) for v in org_hours.values()):
        broken.add(9)
    return broken


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_arbitrary_plans_break_exactly_the_rules_a_brute_force_check_finds(data: st.DataObject) -> None:
    problem = data.draw(problems())
    the_plan = data.draw(arbitrary_plans(problem))
    assert rules(verify(problem, the_plan)) == _brute_force_rules(problem, the_plan)


def test_brute_force_agrees_on_the_table() -> None:
    """The oracle of the property above is itself checked against the hand-written cases."""
    for case in CASES:
        problem, assignments, want = cast(tuple[Problem, list[Assignment], set[int]], case.values)
        assert _brute_force_rules(problem, plan(problem, *assignments)) == want, case.id


# Golden problem/plan pairs --------------------------------------------------------------------------------------------

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "verify"


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".plan.json") for p in GOLDEN.glob("*.plan.json")))
def test_golden_pair(name: str) -> None:
    """Hand-checked files, read the way the CLI reads them; the sidecar lists the violations a person expects."""
    [problem_file] = GOLDEN.glob(f"{name}.problem.*")
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text())
    found = verify(load_problem(problem_file), load_plan(GOLDEN / f"{name}.plan.json"))
    got = [{"rule": v.rule, "request": v.request, "where": v.where} for v in found]
    assert sorted(got, key=str) == sorted(expected["violations"], key=str)
