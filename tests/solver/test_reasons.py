"""Why a request was rejected: every reason code has a story, and every reason is true of its plan.

Every solve ends with a fill, so every rejected request fits nowhere beside its plan, whatever the reason; a
brute force (``fits_somewhere``) tries every cluster, type and start with the independent checker to hold it to that.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.plan import REASONS, Plan
from solver.policies import NAMES
from solver.problem import Problem
from solver.search import solve
from solver.verify import verify
from tests.solver.rejections import PARAMS, crowded, fits_somewhere, merit_plan, rejection
from tests.solver.worlds import req, world
from tests.strategies import problems

# Every reason code, from a scenario that produces it ----------------------------------------------------------------

REASON_CASES = [
    pytest.param(
        world(req("fr-only", countries=["FR"])),
        "value", "fr-only", "no_eligible_cluster", ["in FR", "H100"],
        id="residency FR-only with no FR cluster",
    ),
    pytest.param(
        world(req("it-h100", countries=["IT"])),
        "value", "it-h100", "no_eligible_cluster", ["in IT", "H100"],
        id="Italy allowed, but Italy has only A100",
    ),
    pytest.param(
        world(req("rushed", runtime={"H100": 5}, earliest_slot=2, deadline_slot=5)),
        "value", "rushed", "window_too_short", ["needs 5 slots on H100", "only 3 remain", "slot 2", "slot 5"],
        id="window of 3 slots for a 5-slot job",
    ),
    pytest.param(
        world(req("big", 16, {"A100": 3})),
        "value", "big", "capacity", ["needs 16 GPUs", "has 8"],
        id="gang of 16 never fits a cluster of 8",
    ),
    pytest.param(
        world(req("big", 12), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 0, "to_slot": 12}]}),
        "value", "big", "capacity", ["needs 12 GPUs", "has 8", "maintenance"],
        id="maintenance all week leaves 8 H100 for a gang of 12",
    ),
    pytest.param(
        world(req("small", 8, merit=0.6, deadline_slot=3), req("large", 16, merit=0.5, deadline_slot=3)),
        "value", "small", "capacity", ["GPUs of every eligible cluster are taken", "slots 0–3"],
        id="a larger lower-merit job is worth more, so the small one meets full GPUs",
    ),
    pytest.param(
        world(req("hot", 16), jsc={"power_cap_kw": 5.6}),
        "value", "hot", "power_cap", ["11.2 kW"],
        id="16 H100 draw 11.2 kW under a 5.6 kW cap",
    ),
    pytest.param(
        world(
            req("h100-job", merit=0.5, deadline_slot=3),
            req("a100-job", merit=0.9, runtime={"A100": 3}, deadline_slot=3),
            jsc={"gpus": {"H100": 8, "A100": 8}, "power_cap_kw": 5.6},
            leo={"gpus": {"A100": 0}},
        ),
        "value", "h100-job", "power_cap", ["the power of every eligible cluster"],
        id="an A100 job's draw, not the free H100s, keeps the H100 job out",
    ),
    pytest.param(
        world(req("hungry"), policy={"energy_budget_mwh": 0.01}),
        "value", "hungry", "energy_budget", ["17 kWh", "10 kWh"],
        id="16.8 kWh asked of a 10 kWh programme",
    ),
    pytest.param(
        world(req("r1", merit=0.9), req("r2", merit=0.6), policy={"energy_budget_mwh": 0.02}),
        "value", "r2", "energy_budget", ["17 kWh"],
        id="the energy budget holds one 16.8 kWh job, not two",
    ),
    pytest.param(
        world(req("dirty"), jsc={"carbon_intensity": 400.0}, policy={"carbon_budget_t": 0.005}),
        "value", "dirty", "carbon_budget", ["0.01 t"],
        id="6.7 kg of CO2 against a 5 kg budget",
    ),
    pytest.param(
        world(
            req("clean-first", merit=0.9, deadline_slot=3),
            req("second", merit=0.6, deadline_slot=3),
            jsc={"carbon_intensity": 400.0},
            policy={"carbon_budget_t": 0.01},
        ),
        "value", "second", "carbon_budget", ["carbon budget has 0.003 t left"],
        id="the carbon budget holds one 6.7 kg job, not two",
    ),
    pytest.param(
        world(req("greedy-org"), policy={"org_cap_share": 0.05}),
        "value", "greedy-org", "org_cap", ["24 GPU-hours", "cap of 14"],
        id="org cap of 14.4 GPU-hours below the job's 24",
    ),
    pytest.param(
        world(req("r1", merit=0.9), req("r2", merit=0.6), policy={"org_cap_share": 0.1}),
        "value", "r2", "org_cap", ["organisation org-a has 5 left of its cap of 29"],
        id="org cap of 28.8 GPU-hours admits one 24-hour job",
    ),
    pytest.param(
        world(req("r1", merit=0.9, earliest_slot=3, deadline_slot=6), req("r2", merit=0.6, earliest_slot=3,
              deadline_slot=6), jsc={"power_cap_kw": 5.6}),
        "value", "r2", "lower_merit", ["1 requests with merit above 0.60"],
        id="power cap blocks the second 8-GPU job in slot 3, and the first has higher merit",
    ),
    pytest.param(
        world(
            req("a", merit=0.5, category="art"),
            *(req(f"s{i}", merit=0.9 - i / 100, category="science") for i in range(5)),
            slots=6,
            policy={"category_shares": {"art": 0.5, "science": 0.5}},
        ),
        "fair", "s4", "lower_merit", ["3 requests with merit above 0.86"],
        id="fair policy keeps room for the one art job; the lowest-merit science job yields to its own category",
    ),
    pytest.param(
        world(
            req("a1", 16, runtime={"H100": 12}, merit=0.2, category="art"),
            req("s1", 16, runtime={"H100": 12}, merit=0.9, category="science"),
            policy={"category_shares": {"art": 0.5, "science": 0.5}},
        ),
        "fair", "s1", "category_balance", ["H100 on jsc-booster in slots 0–12 are held by art (level 384)",
                                           "science would reach level 384"],
        id="art holds the whole cluster; evicting it would leave art worse off than science would be",
    ),
    pytest.param(
        world(
            req("shared", 16, merit=0.3, category="science"),
            req("unshared", 16, merit=0.9, category="hobby"),
            slots=3,
            policy={"category_shares": {"science": 1.0}},
        ),
        "fair", "unshared", "category_balance", ["category hobby has no share"],
        id="a category without a share only gets what is left",
    ),
    pytest.param(
        world(
            req("shared", 16, merit=0.3, category="science"),
            req("unshared", 16, merit=0.9, category="hobby"),
            slots=3,
            policy={"category_shares": {"science": 1.0}},
        ),
        "value", "shared", "lower_merit", ["merit above 0.30"],
        id="the value policy takes the higher merit whatever the category",
    ),
]


def test_every_reason_code_has_a_scenario() -> None:
    assert {case.values[3] for case in REASON_CASES} == set(REASONS)


@pytest.mark.parametrize(("problem", "policy", "rid", "reason", "detail"), REASON_CASES)
def test_each_reason_comes_from_its_scenario(
    problem: Problem, policy: str, rid: str, reason: str, detail: list[str]
) -> None:
    plan = solve(problem, policy, PARAMS)
    assert verify(problem, plan) == []
    got = rejection(plan, rid)
    assert got.reason == reason, got.detail
    for fragment in detail:
        assert fragment in got.detail
    r = next(q for q in problem.requests if q.id == rid)
    assert not fits_somewhere(problem, plan, r), "a rejected request fits nowhere beside its plan"


# Reasons are true on random plans -----------------------------------------------------------------------------------


def check_reasons(problem: Problem, plan: Plan) -> None:
    """Every reason holds of the plan: eligibility, the window, and "fits nowhere" beside it."""
    assert verify(problem, plan) == []
    by_id = {r.id: r for r in problem.requests}
    for x in plan.rejected:
        r = by_id[x.request]
        eligible = [
            rt for c in problem.clusters if r.countries is None or c.country in r.countries
            for g, rt in r.runtime_slots.items() if c.gpus.get(g, 0) > 0
        ]
        assert (x.reason == "no_eligible_cluster") == (not eligible)
        if x.reason == "window_too_short":
            assert min(eligible) > problem.deadline(r) - r.earliest_slot
        assert not fits_somewhere(problem, plan, r), f"{r.id} is rejected ({x.reason}) but fits"


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(crowded(), st.sampled_from(NAMES))
def test_reasons_hold_for_solved_plans(problem: Problem, policy: str) -> None:
    check_reasons(problem, solve(problem, policy, PARAMS))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=10, max_clusters=2, max_slots=12))
def test_reasons_hold_under_every_optional_rule(problem: Problem) -> None:
    """The shared strategy draws carbon budgets, maintenance and per-slot carbon too."""
    check_reasons(problem, merit_plan(problem))
