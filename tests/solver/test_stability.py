"""Stable plans, held by the independent checker: nothing wasted under either policy, no justified complaint
under the fair policy, and every ``category_balance`` rejection names categories that are better served."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.workload import bench_problem
from solver.greedy import baseline
from solver.index import compile_problem
from solver.metrics import fits_alone
from solver.plan import Plan
from solver.policies import NAMES, Context, get
from solver.problem import Problem
from solver.search import decode, solve
from solver.stability import complaints
from solver.verify import check
from tests.solver.rejections import PARAMS, crowded
from tests.strategies import contended

HOLDER = re.compile(r"([A-Za-z0-9_.-]+) \(level ([0-9,.]+|inf)\)")
FAST = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def levels(problem: Problem, plan: Plan) -> dict[str, float]:
    shares = problem.policy.category_shares
    by_id = {r.id: r for r in problem.requests}
    work: dict[str, float] = dict.fromkeys(shares, 0.0)
    for a in plan.assignments:
        r = by_id[a.request]
        work[r.category] = work.get(r.category, 0.0) + problem.work(r)
    return {c: w / shares[c] for c, w in work.items() if shares.get(c, 0.0) > 0}


def assert_stable(problem: Problem, policy: str) -> Plan:
    plan = solve(problem, policy, PARAMS)
    report = check(problem, plan)
    assert report.violations == []
    assert report.stability.wasted == [], "a rejected request fits beside the plan"
    assert plan.metrics.wasted == 0
    if policy == "fair":
        assert report.stability.complaints == [], "a rejected request has a justified complaint"
    assert plan.metrics.justified_complaints == len(report.stability.complaints), "the plan miscounts its complaints"
    return plan


@FAST
@given(st.one_of(crowded(), contended()), st.sampled_from(NAMES))
def test_plans_waste_nothing_and_fair_plans_owe_nothing(problem: Problem, policy: str) -> None:
    assert_stable(problem, policy)


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"S-shape bench instance, seed {s}") for s in (0, 1, 2)])
def test_the_complaint_search_agrees_with_the_checker_on_a_merit_queue_plan_that_owes_many(seed: int) -> None:
    # the merit queue balances nothing, so its plan holds dozens of complaints for the pre-filters to get right
    problem = bench_problem("S", seed)
    index = compile_problem(problem)
    ctx = Context.build(index, fits_alone(index))
    book = baseline(index, "merit")
    owed = check(problem, decode(ctx, book, get("value"))).stability.complaints
    assert len(owed) >= 10
    assert sorted(index.req_ids[r] for r in complaints(ctx, book)) == owed


@FAST
@given(contended())
def test_category_balance_names_better_served_holders_and_never_a_share_0_one(problem: Problem) -> None:
    plan = assert_stable(problem, "fair")
    level = levels(problem, plan)
    shares = problem.policy.category_shares
    by_id = {r.id: r for r in problem.requests}
    for x in plan.rejected:
        if x.reason != "category_balance":
            continue
        own = by_id[x.request].category
        if shares.get(own, 0.0) == 0:
            assert "has no share" in x.detail
            continue
        holders = HOLDER.findall(x.detail)
        assert holders, x.detail
        for name, _ in holders:
            assert shares.get(name, 0.0) > 0, f"share-0 category {name} named as a holder: {x.detail}"
            assert level[name] > level[own], f"{name} is not better served than {own}: {x.detail}"
