"""The independent checker, rule by rule: each hard rule broken, and held at its boundary."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solver.files import load_plan, load_problem
from solver.plan import Assignment, Plan, Rejection
from solver.problem import Problem, available
from solver.verify import MAX_PER_RULE, Violation, verify
from tests.solver.worlds import req, world
from tests.strategies import arbitrary_plans, problems, valid_plans


def on(rid: str, start: int, end: int, cluster: str = "jsc-booster", gpu_type: str = "H100") -> Assignment:
    return Assignment(request=rid, cluster=cluster, gpu_type=gpu_type, start_slot=start, end_slot=end)


def no(rid: str, detail: str = "full") -> Rejection:
    return Rejection(request=rid, reason="capacity", detail=detail)


def plan(problem: Problem, *assignments: Assignment, rejected: tuple[Rejection, ...] = ()) -> Plan:
    """Assign as given, reject every other request: rule-1 clean unless the case says otherwise."""
    covered = {a.request for a in assignments} | {x.request for x in rejected}
    rest = [no(r.id) for r in problem.requests if r.id not in covered]
    return Plan(assignments=list(assignments), rejected=[*rejected, *rest])


def rules(violations: list[Violation]) -> set[int]:
    return {v.rule for v in violations}


# Rule 1: coverage ---------------------------------------------------------------------------------------------------

TWO = world(req("r1", 2), req("r2", 2))

COVERAGE = [
    pytest.param(plan(TWO, on("r1", 0, 3)), set(), id="one assigned and one rejected is complete"),
    pytest.param(Plan(assignments=[on("r1", 0, 3)]), {1}, id="request missing from plan"),
    pytest.param(
        Plan(assignments=[on("r1", 0, 3)], rejected=[no("r1"), no("r2")]), {1}, id="request both assigned and rejected"
    ),
    pytest.param(
        Plan(assignments=[on("r1", 0, 3), on("r1", 3, 6)], rejected=[no("r2")]), {1}, id="request assigned twice"
    ),
    pytest.param(Plan(rejected=[no("r1"), no("r2"), no("r2")]), {1}, id="request rejected twice"),
    pytest.param(plan(TWO, on("r1", 0, 3), on("r9", 0, 3)), {1}, id="unknown request id in assignments"),
    pytest.param(plan(TWO, rejected=(no("r9"),)), {1}, id="unknown request id in rejected"),
    pytest.param(plan(TWO, rejected=(no("r1", detail="   "),)), {1}, id="rejection whose detail is only blanks"),
    pytest.param(
        plan(TWO, rejected=(Rejection.model_construct(request="r1", reason=cast(Any, "because"), detail="x"),)),
        {1},
        id="rejection reason outside the vocabulary",
    ),
]


@pytest.mark.parametrize(("the_plan", "want"), COVERAGE)
def test_every_request_appears_exactly_once(the_plan: Plan, want: set[int]) -> None:
    assert rules(verify(TWO, the_plan)) == want


# Rules 2-9: one problem per case ------------------------------------------------------------------------------------

EITHER = {"H100": 3, "A100": 5}

CASES = [
    # Rule 2: type and cluster
    pytest.param(
        world(req("r1", runtime=EITHER)),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        set(),
        id="request runs on its second-choice type A100",
    ),
    pytest.param(
        world(req("r1", runtime=EITHER)), [on("r1", 0, 3, "cineca-leo", "H100")], {2}, id="unknown GPU type on cluster"
    ),
    pytest.param(world(req("r1")), [on("r1", 0, 5, "cineca-leo", "A100")], {2}, id="GPU type the request did not list"),
    pytest.param(world(req("r1")), [on("r1", 0, 3, "hawk")], {2}, id="unknown cluster"),
    pytest.param(
        world(req("r1"), jsc={"gpus": {"H100": 0}}), [on("r1", 0, 3)], {2}, id="cluster lists H100 with a count of zero"
    ),
    # Rule 3: residency
    pytest.param(
        world(req("r1", runtime=EITHER, countries=["DE"])),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        {3},
        id="country outside residency",
    ),
    pytest.param(
        world(req("r1", runtime=EITHER, countries=["FR", "IT"])),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        set(),
        id="country inside residency list",
    ),
    # Rule 4: runtime and window
    pytest.param(world(req("r1")), [on("r1", 0, 2)], {4}, id="runs 2 slots where 3 are needed"),
    pytest.param(world(req("r1")), [on("r1", 0, 4)], {4}, id="runs 4 slots where 3 are needed"),
    pytest.param(
        world(req("r1", runtime=EITHER)),
        [on("r1", 0, 3, "cineca-leo", "A100")],
        {4},
        id="A100 needs the A100 runtime, not the H100 one",
    ),
    pytest.param(world(req("r1", earliest_slot=4)), [on("r1", 3, 6)], {4}, id="starts one slot before earliest"),
    pytest.param(world(req("r1", earliest_slot=4)), [on("r1", 4, 7)], set(), id="starts exactly at earliest"),
    pytest.param(world(req("r1", deadline_slot=10)), [on("r1", 8, 11)], {4}, id="deadline at slot 10 rules out end 11"),
    pytest.param(world(req("r1", deadline_slot=10)), [on("r1", 7, 10)], set(), id="deadline at slot 10 allows end 10"),
    pytest.param(world(req("r1")), [on("r1", 10, 13)], {4}, id="end 13 is beyond a 12-slot horizon"),
    pytest.param(world(req("r1")), [on("r1", 9, 12)], set(), id="end 12 is exactly the horizon"),
    # Rule 5: GPU counts
    pytest.param(
        world(req("r1"), req("r2")), [on("r1", 0, 3), on("r2", 1, 4)], set(), id="two 8-GPU jobs fill 16 H100 exactly"
    ),
    pytest.param(
        world(req("r1"), req("r2"), req("r3")),
        [on("r1", 0, 3), on("r2", 1, 4), on("r3", 2, 5)],
        {5},
        id="a third 8-GPU job overloads 16 H100 in slot 2",
    ),
    pytest.param(
        world(req("r1", 16), req("r2", 16)),
        [on("r1", 2, 5), on("r2", 5, 8)],
        set(),
        id="a job ending at slot 5 and one starting at slot 5 do not overlap",
    ),
    pytest.param(
        world(req("r1", 16), req("r2", 16)),
        [on("r1", 2, 5), on("r2", 4, 7)],
        {5},
        id="jobs on [2, 5) and [4, 7) share slot 4",
    ),
    pytest.param(
        world(req("r1", 16), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 3, 6)],
        {5},
        id="maintenance window leaves 8 of 16 H100 in slot 5",
    ),
    pytest.param(
        world(req("r1", 16), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 2, 5)],
        set(),
        id="16-GPU job ends as maintenance starts at slot 5",
    ),
    pytest.param(
        world(req("r1", 8), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 4, 7)],
        set(),
        id="8-GPU job runs through a window that leaves 8",
    ),
    pytest.param(
        world(
            req("r1", 8),
            jsc={
                "unavailable": [
                    {"gpu_type": "H100", "gpus": 8, "from_slot": 4, "to_slot": 8},
                    {"gpu_type": "H100", "gpus": 4, "from_slot": 6, "to_slot": 7},
                ]
            },
        ),
        [on("r1", 4, 7)],
        {5},
        id="overlapping withdrawals add up to leave 4 in slot 6",
    ),
    pytest.param(
        world(req("r1", 8, {"A100": 2}), req("r2", 8), jsc={"gpus": {"H100": 8, "A100": 8}}),
        [on("r1", 0, 2, gpu_type="A100"), on("r2", 0, 3)],
        set(),
        id="H100 and A100 counts are separate",
    ),
    # Rule 6: power cap
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 10}),
        [on("r1", 1, 4), on("r2", 3, 6)],
        {6},
        id="power cap blocks the second 8-GPU job in slot 3",
    ),
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 10}),
        [on("r1", 0, 3), on("r2", 3, 6)],
        set(),
        id="power cap of 10 kW fits 8-GPU jobs back to back",
    ),
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 11.2}),
        [on("r1", 0, 3), on("r2", 1, 4)],
        set(),
        id="power cap of 11.2 kW fits two 8-GPU H100 jobs exactly",
    ),
    pytest.param(
        world(req("r1", 8, {"A100": 2}), req("r2", 8), jsc={"gpus": {"H100": 8, "A100": 8}, "power_cap_kw": 8}),
        [on("r1", 0, 2, gpu_type="A100"), on("r2", 0, 3)],
        {6},
        id="power cap adds 5.6 kW H100 and 3.2 kW A100",
    ),
    # Rule 7: energy budget (8 H100 x 3 h = 16.8 kWh)
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0163}),
        [on("r1", 0, 3)],
        {7},
        id="energy budget exceeded by 0.5 kWh",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168}),
        [on("r1", 0, 3)],
        set(),
        id="energy budget of exactly 16.8 kWh",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168 - 1e-10}),
        [on("r1", 0, 3)],
        set(),
        id="energy 1e-7 kWh over budget is within tolerance",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168 - 1e-7}),
        [on("r1", 0, 3)],
        {7},
        id="energy 1e-4 kWh over budget is caught",
    ),
    pytest.param(
        world(req("r1"), jsc={"pue": 1.5}, policy={"energy_budget_mwh": 0.0168}),
        [on("r1", 0, 3)],
        {7},
        id="energy counts the PUE at the meter",
    ),
    pytest.param(
        world(req("r1"), slot_minutes=30, policy={"energy_budget_mwh": 0.0084}),
        [on("r1", 0, 3)],
        set(),
        id="half-hour slots halve the energy",
    ),
    # Rule 8: carbon budget (5.6 kWh per slot)
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.005},
        ),
        [on("r1", 4, 7)],
        {8},
        id="carbon budget uses per-slot intensity",
    ),
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.0056},
        ),
        [on("r1", 4, 7)],
        set(),
        id="carbon budget meets 5.6 kg in the one dirty slot exactly",
    ),
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.0},
        ),
        [on("r1", 2, 5)],
        set(),
        id="zero carbon budget allows a job that ends before the dirty slot",
    ),
    pytest.param(
        world(req("r1"), jsc={"carbon_intensity": 300}, policy={"carbon_budget_t": 0.005}),
        [on("r1", 0, 3)],
        {8},
        id="carbon at a flat 300 g per kWh is 5.04 kg",
    ),
    # Rule 9: org cap (capacity 16 x 12 + 8 x 12 = 288 GPU-hours; 0.1 of it is 28.8)
    pytest.param(
        world(req("r1", runtime={"H100": 2, "A100": 4}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 4, "cineca-leo", "A100")],
        {9},
        id="org cap counts GPU-hours as run on slower type",
    ),
    pytest.param(
        world(req("r1", runtime={"H100": 2, "A100": 4}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2)],
        set(),
        id="org cap allows the same request on the faster type",
    ),
    pytest.param(
        world(req("r1", 8, {"H100": 2}), req("r2", 8, {"H100": 2}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2), on("r2", 2, 4)],
        {9},
        id="org cap adds up an organisation's requests",
    ),
    pytest.param(
        world(req("r1", 8, {"H100": 2}), req("r2", 8, {"H100": 2}, org="org-b"), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2), on("r2", 2, 4)],
        set(),
        id="org cap counts each organisation apart",
    ),
    pytest.param(
        world(
            req("r1"),
            policy={"org_cap_share": 0.1},
            jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 0, "to_slot": 12}]},
        ),
        [on("r1", 0, 3)],
        {9},
        id="maintenance shrinks the capacity the org cap is a share of",
    ),
    pytest.param(
        world(
            req("r1", runtime={"A100": 4}),
            policy={"org_cap_share": 0.5},
            jsc={
                "unavailable": [
                    {"gpu_type": "H100", "gpus": 16, "from_slot": 0, "to_slot": 12},
                    {"gpu_type": "H100", "gpus": 16, "from_slot": 0, "to_slot": 12},
                ]
            },
        ),
        [on("r1", 0, 4, "cineca-leo", "A100")],
        set(),
        id="doubled withdrawals count as zero GPUs in the org cap capacity, not minus 16",
    ),
]


@pytest.mark.parametrize(("problem", "assignments", "want"), CASES)
def test_hard_rule(problem: Problem, assignments: list[Assignment], want: set[int]) -> None:
    assert rules(verify(problem, plan(problem, *assignments))) == want


# What a violation says ------------------------------------------------------------------------------------------------


def test_overload_names_cluster_type_slots_and_numbers() -> None:
    problem = world(req("r1"), req("r2"), req("r3"))
    [v] = verify(problem, plan(problem, on("r1", 0, 3), on("r2", 1, 4), on("r3", 2, 5)))
    assert (v.rule, v.request, v.where) == (5, None, "cluster jsc-booster, H100, slot 2")
    assert "24 GPUs assigned, 16 available" in v.message
    assert "r1, r2, r3" in v.message


def test_one_violation_per_contiguous_run_of_overloaded_slots() -> None:
    problem = world(req("a", 16, {"H100": 4}), req("b", 16, {"H100": 4}), req("c", 16, {"H100": 2}))
    found = verify(problem, plan(problem, on("a", 0, 4), on("b", 2, 6), on("c", 8, 10)))
    assert [v.where for v in found] == ["cluster jsc-booster, H100, slots 2-3"]


def test_assignment_rules_name_the_request() -> None:
    problem = world(req("r1", deadline_slot=10))
    [v] = verify(problem, plan(problem, on("r1", 8, 11)))
    assert (v.rule, v.request) == (4, "r1")
    assert "cluster jsc-booster, H100, slots [8, 11)" in v.where
    assert "deadline_slot 10" in v.message


def test_long_lists_are_capped_but_never_emptied() -> None:
    many = world(*[req(f"r{i}", 1) for i in range(MAX_PER_RULE + 50)])
    found = verify(many, Plan())
    assert len(found) == MAX_PER_RULE + 1
    assert {v.rule for v in found} == {1}
    assert "50 more rule-1 violations" in found[-1].message


def test_empty_problem_and_plan_are_valid() -> None:
    assert verify(world(), Plan()) == []


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


# Scale ----------------------------------------------------------------------------------------------------------------


def _large(n_requests: int = 25_000, n_clusters: int = 40, slots: int = 336) -> tuple[Problem, Plan]:
    """A week of hourly slots over 40 clusters, every request placed at random within its window."""
    rng = random.Random(7)
    types = ["H100", "A100", "MI250X"]
    clusters = [
        {
            "id": f"cl-{i:02d}",
            "country": rng.choice(["DE", "FR", "IT", "NL"]),
            "gpus": {g: 64 for g in types},
            "power_cap_kw": 100.0,
            "carbon_intensity": [float(rng.randint(50, 400)) for _ in range(slots)],
            "unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 10, "to_slot": 20}],
        }
        for i in range(n_clusters)
    ]
    requests = [
        {
            "id": f"req-{i:05d}",
            "org": f"org-{i % 50}",
            "category": "research",
            "gpus": rng.choice([1, 2, 4, 8]),
            "runtime_slots": {g: rng.randint(1, 24) for g in rng.sample(types, 2)},
        }
        for i in range(n_requests)
    ]
    problem = Problem.model_validate(
        {
            "horizon": {"start": "2025-01-06T00:00:00Z", "slots": slots},
            "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}, "MI250X": {"tdp_watts": 560}},
            "clusters": clusters,
            "requests": requests,
            "policy": {"energy_budget_mwh": 1000, "carbon_budget_t": 1000, "org_cap_share": 0.5},
        }
    )
    assignments = []
    for r in problem.requests:
        g, runtime = next(iter(r.runtime_slots.items()))
        start = rng.randint(0, slots - runtime)
        assignments.append(on(r.id, start, start + runtime, f"cl-{rng.randrange(n_clusters):02d}", g))
    return problem, Plan(assignments=assignments)


def test_checks_25000_requests_on_40_clusters_over_336_slots_in_seconds() -> None:
    problem, the_plan = _large()
    began = time.perf_counter()
    found = verify(problem, the_plan)
    elapsed = time.perf_counter() - began
    assert elapsed < 5.0, f"verify took {elapsed:.2f} s"
    assert {v.rule for v in found} <= {5, 6}
