"""Plans with rejections to explain, shared by the tests of reasons and of counterfactuals."""

from __future__ import annotations

from hypothesis import strategies as st

from solver.greedy import baseline
from solver.index import compile_problem
from solver.metrics import fits_alone
from solver.params import SolveParams
from solver.plan import Assignment, Plan, Rejection
from solver.policies import Context, get
from solver.problem import Problem, Request
from solver.search import decode
from solver.verify import verify

PARAMS = SolveParams(
    time_limit_s=20, workers=1, seed=0, deterministic=True, max_neighbourhoods=3, neighbourhood_dtime=0.5
)


def rejection(plan: Plan, rid: str) -> Rejection:
    return next(x for x in plan.rejected if x.request == rid)


def placements_of(plan: Plan) -> dict[str, tuple[str, str, int]]:
    return {a.request: (a.cluster, a.gpu_type, a.start_slot) for a in plan.assignments}


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


def merit_plan(problem: Problem) -> Plan:
    """The merit queue's plan, explained as under the value policy.  Plans drawn from the shared strategy (carbon
    budgets, maintenance, per-slot carbon) come from the queue, since solving under a carbon budget could crash
    (see ``test_a_carbon_budget_with_a_late_window_does_not_crash`` in test_solver.py)."""
    index = compile_problem(problem)
    return decode(Context.build(index, fits_alone(index)), baseline(index, "merit"), get("value"))


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
