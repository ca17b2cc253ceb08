"""Why a request was rejected, and what single change would let it in: every reason has a story, and every
counterfactual is true.

A counterfactual is checked the way an applicant would use it: make the change to the request, place the changed
request beside the plan with every other allocation exactly where it was, and hand the new plan to the
independent checker.  It must find nothing wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.explain import Residual, apply, counterfactual
from solver.params import SolveParams
from solver.plan import REASONS, Assignment, Counterfactual, Plan, Rejection
from solver.policies import NAMES
from solver.problem import Problem, Request
from solver.search import solve
from solver.verify import verify
from tests.solver.worlds import req, world
from tests.strategies import problems

PARAMS = SolveParams(
    time_limit_s=20, workers=1, seed=0, deterministic=True, max_neighbourhoods=3, neighbourhood_dtime=0.5
)


def rejection(plan: Plan, rid: str) -> Rejection:
    return next(x for x in plan.rejected if x.request == rid)


def placements_of(plan: Plan) -> dict[str, tuple[str, str, int]]:
    return {a.request: (a.cluster, a.gpu_type, a.start_slot) for a in plan.assignments}


def with_request(problem: Problem, changed: Request) -> Problem:
    requests = [changed if r.id == changed.id else r for r in problem.requests]
    return Problem.model_validate({**problem.model_dump(), "requests": [r.model_dump() for r in requests]})


def fits_somewhere(problem: Problem, plan: Plan, r: Request) -> bool:
    """Brute force: does any (cluster, type, start) for ``r`` beside ``plan`` pass the independent checker?"""
    rest = [x for x in plan.rejected if x.request != r.id]
    for c in problem.clusters:
        for g, rt in r.runtime_slots.items():
            for s in range(problem.horizon.slots - rt + 1):
                a = Assignment(request=r.id, cluster=c.id, gpu_type=g, start_slot=s, end_slot=s + rt)
                if not verify(problem, Plan(assignments=[*plan.assignments, a], rejected=rest)):
                    return True
    return False


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
        "fair", "s4", "category_balance", ["category science already has 100% of its fair share"],
        id="fair policy keeps room for the one art job; the lowest-merit science job yields",
    ),
    pytest.param(
        world(
            req("a1", merit=0.5, category="a"),
            req("a2", merit=0.4, category="a"),
            req("b1", merit=0.9, category="b", org="org-b1"),
            req("b2", merit=0.8, category="b", org="org-b2"),
            policy={"category_shares": {"a": 0.5, "b": 0.5}, "org_cap_share": 0.1},
        ),
        "fair", "b2", "category_balance", ["it fits beside this plan", "lower the fairness"],
        id="b2 fits beside the plan, but a's org cap holds a at one job and b2 would push b above a",
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
    if "fits beside this plan" not in got.detail:
        assert not fits_somewhere(problem, plan, r), "a rejection other than category_balance means it fits nowhere"


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


@st.composite
def crowded(draw: st.DrawFn) -> Problem:
    """Up to 10 requests for one or two small clusters: most plans reject something, for many reasons."""
    slots = draw(st.integers(6, 16))
    clusters = [
        {
            "id": f"site-{i}",
            "country": ["DE", "FR"][i],
            "gpus": {"H100": draw(st.sampled_from([8, 16])), "A100": draw(st.sampled_from([0, 8, 8]))},
            "power_cap_kw": draw(st.sampled_from([None, None, 8.4])),
            "carbon_intensity": draw(st.sampled_from([50.0, 300.0])),
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    requests = []
    for i in range(draw(st.integers(3, 10))):
        h100 = draw(st.integers(1, slots // 2))
        types = draw(st.sampled_from([{"H100": h100}, {"H100": h100, "A100": 2 * h100}, {"A100": 2 * h100}]))
        earliest = draw(st.integers(0, slots // 2))
        requests.append(
            {
                "id": f"req-{i}",
                "org": draw(st.sampled_from(["org-a", "org-b", "org-c"])),
                "category": draw(st.sampled_from(["science", "industry"])),
                "gpus": draw(st.sampled_from([1, 2, 4, 8, 8, 16])),
                "runtime_slots": types,
                "earliest_slot": earliest,
                "deadline_slot": draw(st.none() | st.none() | st.integers(earliest + 1, slots)),
                "countries": draw(st.sampled_from([None, None, None, ["DE"], ["FR"]])),
                "merit": draw(st.floats(0.0, 1.0)),
            }
        )
    policy = {
        "category_shares": draw(st.sampled_from([{}, {"science": 0.6, "industry": 0.4}])),
        "org_cap_share": draw(st.sampled_from([None, 0.2, 0.4])),
        "energy_budget_mwh": draw(st.sampled_from([None, 0.1, 0.3])),
    }
    return Problem.model_validate(
        {
            "horizon": {"start": "2027-01-04T00:00:00Z", "slot_minutes": 60, "slots": slots},
            "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}},
            "clusters": clusters,
            "requests": requests,
            "policy": policy,
        }
    )


def check_rejections(problem: Problem, plan: Plan) -> None:
    """Every reason holds of the plan, and every counterfactual, applied, fits beside it."""
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
        if "fits beside this plan" not in x.detail:
            assert not fits_somewhere(problem, plan, r), f"{r.id} is rejected ({x.reason}) but fits"
        cf = counterfactual(problem, placements_of(plan), r.id)
        if cf is not None:
            assert_true(problem, plan, r.id, cf)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(crowded(), st.sampled_from(NAMES))
def test_reasons_and_counterfactuals_hold_for_solved_plans(problem: Problem, policy: str) -> None:
    check_rejections(problem, solve(problem, policy, PARAMS))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=10, max_clusters=2, max_slots=12))
def test_reasons_and_counterfactuals_hold_under_every_optional_rule(problem: Problem) -> None:
    """The shared strategy draws carbon budgets, maintenance and per-slot carbon too; those plans come from the
    merit queue, since solving under a carbon budget can crash (see tests/test_solver.py)."""
    from solver.greedy import baseline
    from solver.index import compile_problem
    from solver.metrics import fits_alone
    from solver.policies import Context, get
    from solver.search import decode

    index = compile_problem(problem)
    check_rejections(problem, decode(Context.build(index, fits_alone(index)), baseline(index, "merit"), get("value")))
