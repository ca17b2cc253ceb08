"""The independent checker, rule by rule: each hard rule broken, and held at its boundary, and what a violation
says.  Properties (random plans against a brute-force check) and the golden pairs are in
test_verify_properties.py; verify's speed at 25,000 requests is a row of the solver benchmark."""

from __future__ import annotations

from typing import Any, cast

import pytest

from solver.plan import Assignment, Plan, Rejection
from solver.problem import Problem
from solver.verify import MAX_PER_RULE, verify
from tests.solver.verify_cases import CASES, no, on, plan, rules
from tests.solver.worlds import req, world

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
