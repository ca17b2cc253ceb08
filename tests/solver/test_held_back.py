"""Where min attainment stays below 0.95 in a plan that owes nothing, the plan says which category holds it back."""

from __future__ import annotations

from solver.search import solve
from solver.verify import check
from tests.solver.rejections import PARAMS
from tests.solver.worlds import req, world


def test_a_category_whose_requests_cannot_run_together_is_named_with_its_hours() -> None:
    # 16 H100 for 10 slots.  Public's two whole-cluster jobs cannot both run; university's three half-cluster
    # jobs want the last 4 slots, where only two fit.  Evicting public's job would leave public with nothing.
    problem = world(
        req("pub-1", gpus=16, runtime={"H100": 6}, category="public"),
        req("pub-2", gpus=16, runtime={"H100": 6}, category="public"),
        *(req(f"uni-{i}", gpus=8, runtime={"H100": 4}, earliest_slot=6, category="university") for i in (1, 2, 3)),
        slots=10,
        leo={"gpus": {}},
        policy={"category_shares": {"public": 0.5, "university": 0.5}},
    )
    plan = solve(problem, "fair", PARAMS)
    report = check(problem, plan)
    assert report.violations == [] and report.stability.complaints == [] and report.stability.wasted == []
    assert plan.metrics.min_attainment < 0.95
    assert plan.metrics.held_back is not None
    assert plan.metrics.held_back.startswith("university: 64 of 80 h"), plan.metrics.held_back


def test_a_plan_within_reach_of_every_fair_share_names_nothing() -> None:
    problem = world(
        req("pub-1", gpus=8, category="public"),
        req("uni-1", gpus=8, category="university"),
        policy={"category_shares": {"public": 0.5, "university": 0.5}},
    )
    plan = solve(problem, "fair", PARAMS)
    assert plan.metrics.min_attainment >= 0.95
    assert plan.metrics.held_back is None
