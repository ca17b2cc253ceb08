"""Stable plans, held by the independent checker: nothing wasted under either policy, no justified complaint
under the fair policy, and every ``category_balance`` rejection names categories that are better served."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.plan import Plan
from solver.policies import NAMES
from solver.problem import Problem
from solver.search import solve
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
        assert plan.metrics.justified_complaints == 0
    return plan


@FAST
@given(st.one_of(crowded(), contended()), st.sampled_from(NAMES))
def test_plans_waste_nothing_and_fair_plans_owe_nothing(problem: Problem, policy: str) -> None:
    assert_stable(problem, policy)


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
