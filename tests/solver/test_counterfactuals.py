"""What single change would let a rejected request in: every kind has a story, and every counterfactual is true.

A counterfactual is checked the way an applicant would use it: make the change to the request, place the changed
request beside the plan with every other allocation exactly where it was, and hand the new plan to the
independent checker.  It must find nothing wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.counterfactuals import Residual, apply, counterfactual
from solver.plan import Assignment, Counterfactual, Plan, Rejection
from solver.policies import NAMES
from solver.problem import Problem, Request
from solver.search import solve
from solver.verify import verify
from tests.solver.rejections import PARAMS, crowded, fits_somewhere, merit_plan, placements_of
from tests.solver.worlds import req, world
from tests.strategies import problems


def with_request(problem: Problem, changed: Request) -> Problem:
    requests = [changed if r.id == changed.id else r for r in problem.requests]
    return Problem.model_validate({**problem.model_dump(), "requests": [r.model_dump() for r in requests]})


def assert_true(problem: Problem, plan: Plan, rid: str, cf: Counterfactual) -> Plan:
    """Apply the change, place the changed request beside the plan as it stands, and check every hard rule."""
    original = next(r for r in problem.requests if r.id == rid)
    changed = apply(original, cf)
    changed_problem = with_request(problem, changed)
    spot = Residual(changed_problem, placements_of(plan), rid).fit(changed)
    assert spot is not None, f"{rid}: {cf.text}, but the changed request does not fit"
    cluster, gpu_type, start = spot
    end = start + changed.runtime_slots[gpu_type]
    added = Assignment(request=rid, cluster=cluster, gpu_type=gpu_type, start_slot=start, end_slot=end)
    new_plan = Plan(assignments=[*plan.assignments, added], rejected=[x for x in plan.rejected if x.request != rid])
    assert verify(changed_problem, new_plan) == [], f"{rid}: {cf.text}"
    return new_plan


# Counterfactuals of each kind ----------------------------------------------------------------------------------------


def plan_with(problem: Problem, **spots: tuple[str, str, int]) -> Plan:
    """The plan as it stands: these requests where given, every other one rejected."""
    by_id = {r.id: r for r in problem.requests}
    assignments = [
        Assignment(request=rid, cluster=c, gpu_type=g, start_slot=s, end_slot=s + by_id[rid].runtime_slots[g])
        for rid, (c, g, s) in spots.items()
    ]
    rejected = [Rejection(request=r.id, reason="capacity", detail="full") for r in problem.requests
                if r.id not in spots]
    plan = Plan(assignments=assignments, rejected=rejected)
    assert verify(problem, plan) == []
    return plan


H100_WALL = ("jsc-booster", "H100", 0)  # 16 H100 for the whole horizon

COUNTERFACTUALS = [
    pytest.param(
        world(req("wall", 16, {"H100": 12}), req("picky"), req("peer", 8, {"H100": 3, "A100": 5})),
        {"wall": H100_WALL},
        "picky", "runtime_slots", {"H100": 3, "A100": 5}, "also accepted A100 (about 5 slots",
        id="H100 is full all week: it would fit on A100, at the 5/3 speed ratio of its peer",
    ),
    pytest.param(
        world(req("morning", 16, {"H100": 6}), req("late", deadline_slot=6)),
        {"morning": H100_WALL},
        "late", "deadline_slot", 9, "deadline of slot 9",
        id="H100 is full until slot 6: a 3-slot job fits with a deadline of slot 9",
    ),
    pytest.param(
        world(req("half", 8, {"H100": 12}), req("wide", 16)),
        {"half": H100_WALL},
        "wide", "gpus", 8, "if 8 GPUs were enough",
        id="half the H100 taken all week: 8 GPUs instead of 16",
    ),
    pytest.param(
        world(req("wall", 16, {"H100": 12}), req("de-only", countries=["DE"]),
              extra=[{"id": "idris", "country": "FR", "gpus": {"H100": 8}}]),
        {"wall": H100_WALL},
        "de-only", "countries", ["DE", "FR"], "also be processed in FR",
        id="Germany is full: its data could go to France",
    ),
    pytest.param(
        world(req("evening", 16, {"H100": 6}), req("eager", earliest_slot=6)),
        {"evening": ("jsc-booster", "H100", 6)},
        "eager", "earliest_slot", 3, "start at slot 3",
        id="H100 is full from slot 6: it could start at slot 3",
    ),
]


@pytest.mark.parametrize(("problem", "spots", "rid", "change", "value", "text"), COUNTERFACTUALS)
def test_each_kind_of_counterfactual(
    problem: Problem, spots: dict[str, tuple[str, str, int]], rid: str, change: str, value: Any, text: str
) -> None:
    plan = plan_with(problem, **spots)
    r = next(q for q in problem.requests if q.id == rid)
    assert not fits_somewhere(problem, plan, r), "as asked, it fits nowhere beside the plan"
    cf = counterfactual(problem, placements_of(plan), rid)
    assert cf is not None
    assert (cf.change, cf.value) == (change, value)
    assert text in cf.text
    assert_true(problem, plan, rid, cf)


def test_every_kind_of_counterfactual_has_a_scenario() -> None:
    kinds = {case.values[3] for case in COUNTERFACTUALS}
    assert kinds == {"runtime_slots", "deadline_slot", "gpus", "countries", "earliest_slot"}


def test_no_counterfactual_when_no_single_change_helps() -> None:
    # One GPU, any country, the whole horizon, and no peer to suggest another type: nothing left to relax.
    problem = world(req("wall", 16, {"H100": 12}), req("tiny", 1))
    plan = plan_with(problem, wall=H100_WALL)
    assert counterfactual(problem, placements_of(plan), "tiny") is None


# Counterfactuals are true on random plans ---------------------------------------------------------------------------


def check_counterfactuals(problem: Problem, plan: Plan) -> None:
    """Every counterfactual offered for a rejection, applied, fits beside the plan as it stands."""
    assert verify(problem, plan) == []
    for x in plan.rejected:
        cf = counterfactual(problem, placements_of(plan), x.request)
        if cf is not None:
            assert_true(problem, plan, x.request, cf)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(crowded(), st.sampled_from(NAMES))
def test_counterfactuals_hold_for_solved_plans(problem: Problem, policy: str) -> None:
    check_counterfactuals(problem, solve(problem, policy, PARAMS))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=10, max_clusters=2, max_slots=12))
def test_counterfactuals_hold_under_every_optional_rule(problem: Problem) -> None:
    """The shared strategy draws carbon budgets, maintenance and per-slot carbon too."""
    check_counterfactuals(problem, merit_plan(problem))
