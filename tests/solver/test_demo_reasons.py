"""The demo's round, solved under ``fair``: every rejection sentence is true of the plan it explains.

The problem is the one ``make demo`` opens (``scheduler/demo/run.py``): the example clusters with their agents'
carbon forecasts, the example requests with the panel's merit, 24 hourly slots, the demo's shares, an
organisation cap of 25 % and an energy budget of 1.6 MWh.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml

from scheduler.domain import Horizon, RequestSpec
from scheduler.windows import Waiting, through
from solver.params import SolveParams
from solver.plan import Plan
from solver.problem import Problem
from solver.search import solve
from solver.verify import check

SHARES = {"university": 0.35, "sme": 0.30, "civil_society": 0.20, "public_sector": 0.15}
HOLDER = re.compile(r"([A-Za-z0-9_.-]+) \(level ([0-9,.]+|inf)\)")
HORIZON = {"start": "2027-01-04T00:00:00Z", "slot_minutes": 60, "slots": 24}


def _yaml(*path: str) -> Any:
    return yaml.safe_load(resources.files("scheduler.examples").joinpath(*path).read_text(encoding="utf-8"))


def demo_request(r: dict[str, Any]) -> dict[str, Any]:
    """An example request in hours and dates, in the demo round's slots as the service converts it."""
    spec = RequestSpec.model_validate({k: v for k, v in r.items() if k in RequestSpec.model_fields})
    taken = through(spec, r["id"], Horizon.model_validate(HORIZON))
    assert not isinstance(taken, Waiting), f"{r['id']} falls outside the demo's round: {taken}"
    return taken.model_dump()


def demo_problem() -> Problem:
    clusters = _yaml("clusters.yaml")["clusters"]
    gpu_types = {g: {"tdp_watts": t["tdp_watts"]} for c in clusters for g, t in c["gpu_types"].items()}
    return Problem.model_validate({
        "horizon": HORIZON,
        "gpu_types": gpu_types,
        "clusters": [{"id": c["id"], "country": c["country"], "gpus": c["gpus"], "power_cap_kw": c["power_cap_kw"],
                      "pue": c["pue"], "carbon_intensity": _yaml("agents", f"{c['id']}.yaml")["carbon"]["values"]}
                     for c in clusters],
        "requests": [demo_request(r) for r in _yaml("requests.yaml")["requests"]],
        "policy": {"category_shares": SHARES, "org_cap_share": 0.25, "energy_budget_mwh": 1.6},
    })


@pytest.fixture(scope="module")
def solved() -> tuple[Problem, Plan]:
    problem = demo_problem()
    return problem, solve(problem, "fair", SolveParams(time_limit_s=20, workers=1, seed=0, deterministic=True,
                                                       max_neighbourhoods=6, neighbourhood_dtime=0.5))


def levels(problem: Problem, plan: Plan) -> dict[str, float]:
    by_id = {r.id: r for r in problem.requests}
    work = dict.fromkeys(SHARES, 0.0)
    for a in plan.assignments:
        work[by_id[a.request].category] += problem.work(by_id[a.request])
    return {c: w / SHARES[c] for c, w in work.items()}


def test_the_demo_plan_is_valid_wastes_nothing_and_owes_nothing(solved: tuple[Problem, Plan]) -> None:
    problem, plan = solved
    report = check(problem, plan)
    assert report.violations == []
    assert report.stability.wasted == [] and report.stability.complaints == []
    assert plan.rejected, "the demo round is contended: some requests are refused"


def test_no_rejection_says_it_fits_beside_the_plan(solved: tuple[Problem, Plan]) -> None:
    _, plan = solved
    assert not [x for x in plan.rejected if "fits beside" in x.detail]


def test_category_balance_names_only_better_served_categories_with_a_share(solved: tuple[Problem, Plan]) -> None:
    problem, plan = solved
    level = levels(problem, plan)
    by_id = {r.id: r for r in problem.requests}
    for x in (x for x in plan.rejected if x.reason == "category_balance"):
        own = by_id[x.request].category
        holders = HOLDER.findall(x.detail)
        assert holders, x.detail
        for name, _ in holders:
            assert SHARES.get(name, 0.0) > 0, x.detail
            assert level[name] > level[own], x.detail


def test_lower_merit_counts_the_higher_merit_jobs_that_hold_its_pools_in_its_window(
        solved: tuple[Problem, Plan]) -> None:
    problem, plan = solved
    by_id = {r.id: r for r in problem.requests}
    for x in (x for x in plan.rejected if x.reason == "lower_merit"):
        r = by_id[x.request]
        pools = {(c.id, g) for c in problem.clusters for g in r.runtime_slots if c.gpus.get(g, 0) > 0
                 and (r.countries is None or c.country in r.countries)}
        end = problem.deadline(r)
        holders = [a for a in plan.assignments if (a.cluster, a.gpu_type) in pools
                   and a.start_slot < end and a.end_slot > r.earliest_slot and by_id[a.request].merit > r.merit]
        assert holders, x.detail
        assert x.detail.startswith(f"it fits on its own, but {len(holders)} requests with merit above"), x.detail
