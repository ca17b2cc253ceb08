"""The figures of a plan, checked by hand on tiny cases, then against an independent recomputation on random ones.

Every expected number below is worked out in the comment next to it from the contract's definitions: GPU-hours as
run, work on the fastest listed type, fair shares by water-filling the assigned work over the categories that have
both a share and a demand, attainment capped at 1 for the minimum and for Jain's index.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from solver.greedy import baseline
from solver.index import compile_problem
from solver.metrics import fairness, water_fill
from solver.metrics import fits_alone as solver_fits_alone
from solver.placements import Placement, PlacementBook
from solver.plan import Metrics, Plan
from solver.policies import Context, get
from solver.problem import Problem, Request
from solver.search import decode
from solver.verify import verify
from tests.strategies import problems

Spot = tuple[str, str, int]  # cluster, GPU type, start slot


def metrics_of(problem: Problem, placements: dict[str, Spot]) -> Metrics:
    """The metrics the solver reports for exactly these placements (checked valid first)."""
    return plan_of(problem, placements).metrics


def plan_of(problem: Problem, placements: dict[str, Spot]) -> Plan:
    index = compile_problem(problem)
    book = PlacementBook(index)
    for rid, (cluster, gpu_type, start) in placements.items():
        r = index.req_ids.index(rid)
        [k] = [
            k
            for k, o in enumerate(index.options[r])
            if index.cluster_ids[o.cluster] == cluster and index.pool_type[o.pool] == gpu_type
        ]
        assert book.fits_at(r, k, start), f"{rid} does not fit at {cluster}/{gpu_type}/{start}"
        book.place(r, Placement(k, start))
    plan = decode(Context.build(index, solver_fits_alone(index)), book, get("value"))
    assert verify(problem, plan) == []
    return plan


# Half-hour slots (h = 0.5), 10 of them.
#   north (DE): 8 H100 at 700 W, PUE 1.25, 4 H100 withdrawn on [0, 5), intensity rising 100..500 in pairs of slots;
#               available GPU-slots 8·10 − 4·5 = 60.
#   south (IT): 8 A100 at 400 W, PUE 1.0, 250 g/kWh flat; available GPU-slots 80.
# Shares: a 0.5, b 0.3, c 0.2; category d has none.
NORTH_INTENSITY = [100.0, 100.0, 200.0, 200.0, 300.0, 300.0, 400.0, 400.0, 500.0, 500.0]


def req(rid: str, category: str, gpus: int, runtime: dict[str, int], merit: float, **kw: Any) -> dict[str, Any]:
    return {"id": rid, "org": f"org-{rid}", "category": category, "gpus": gpus, "runtime_slots": runtime,
            "merit": merit, **kw}


def three_categories(shares: dict[str, float] | None = None) -> Problem:
    return Problem.model_validate(
        {
            "horizon": {"start": "2027-01-04T00:00:00Z", "slot_minutes": 30, "slots": 10},
            "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}},
            "clusters": [
                {"id": "north", "country": "DE", "gpus": {"H100": 8}, "pue": 1.25,
                 "carbon_intensity": NORTH_INTENSITY,
                 "unavailable": [{"gpu_type": "H100", "gpus": 4, "from_slot": 0, "to_slot": 5}]},
                {"id": "south", "country": "IT", "gpus": {"A100": 8}, "carbon_intensity": 250.0},
            ],
            "requests": [
                req("a1", "a", 4, {"H100": 2, "A100": 4}, 0.8),  # work 4·2·0.5 = 4
                req("a2", "a", 4, {"H100": 4}, 0.5),  # work 4·4·0.5 = 8
                req("b1", "b", 2, {"H100": 2}, 1.0),  # work 2·2·0.5 = 2
                req("b2", "b", 8, {"A100": 10}, 0.4),  # work 8·10·0.5 = 40; fits alone on south [0, 10)
                req("c1", "c", 16, {"H100": 1}, 0.7),  # 16 GPUs fit nowhere: c has no demand
                req("d1", "d", 1, {"A100": 2}, 0.9),  # work 1; d has no share
            ],
            "policy": {"category_shares": shares or {"a": 0.5, "b": 0.3, "c": 0.2}},
        }
    )


PLACEMENTS: dict[str, Spot] = {
    "a1": ("south", "A100", 0),  # [0, 4) on its slower type
    "a2": ("north", "H100", 5),  # [5, 9)
    "b1": ("north", "H100", 0),  # [0, 2), 2 of the 4 H100 up
    "d1": ("south", "A100", 4),  # [4, 6)
}


# Water-filling --------------------------------------------------------------------------------------------------------

WATER = [
    pytest.param(14.0, [0.5, 0.3], [12.0, 42.0], [8.75, 5.25], id="no cap: λ = 14 / 0.8 = 17.5"),
    pytest.param(
        10.0, [0.5, 0.3, 0.2], [100.0, 1.0, 100.0], [0.5 * 9 / 0.7, 1.0, 0.2 * 9 / 0.7],
        id="0.5/0.3/0.2 with b capped at demand 1: λ = (10 − 1) / 0.7",
    ),
    pytest.param(
        60.0, [0.5, 0.3, 0.2], [100.0, 10.0, 5.0], [45.0, 10.0, 5.0],
        id="λ = 60 caps b at 10 and c at 5 at once; a gets the other 45",
    ),
    pytest.param(
        60.0, [0.5, 0.3, 0.2], [100.0, 10.0, 13.0], [37.0, 10.0, 13.0],
        id="capping b lifts λ to 50 / 0.7, which caps c at 13 too; a gets the other 37",
    ),
    pytest.param(
        30.0, [0.5, 0.3, 0.2], [100.0, 6.0, 100.0], [0.5 * 24 / 0.7, 6.0, 0.2 * 24 / 0.7],
        id="b's excess passes on in proportion to the others' shares",
    ),
    pytest.param(20.0, [0.5, 0.5], [4.0, 40.0], [4.0, 16.0], id="what a cannot use goes to b"),
    pytest.param(0.0, [0.5, 0.5], [4.0, 40.0], [0.0, 0.0], id="nothing assigned, nothing shared"),
    pytest.param(
        10.0, [0.5, 0.0, 0.5], [10.0, 10.0, 0.0], [10.0, 0.0, 0.0], id="zero share and zero demand get nothing"
    ),
]


@pytest.mark.parametrize(("total", "shares", "demands", "want"), WATER)
def test_water_filling_by_hand(total: float, shares: list[float], demands: list[float], want: list[float]) -> None:
    assert water_fill(total, shares, demands) == pytest.approx(want)


FAIRNESS = [
    pytest.param({0: 1.5, 1: 0.5, 2: 1.0}, 0.5, 2.5**2 / (3 * 2.25), id="attainment above 1 counts as 1"),
    pytest.param({0: 1.0, 1: 1.0}, 1.0, 1.0, id="perfectly fair"),
    pytest.param({0: 0.0, 1: 0.0}, 0.0, 0.0, id="nothing assigned scores zero on both"),
    pytest.param({}, 0.0, 0.0, id="no counted category"),
    pytest.param({0: 0.2, 1: 0.8}, 0.2, 1.0 / (2 * 0.68), id="0.2 and 0.8: Jain = 1 / (2 · 0.68)"),
]


@pytest.mark.parametrize(("attainment", "want_min", "want_jain"), FAIRNESS)
def test_min_attainment_and_jain_cap_each_attainment_at_1(
    attainment: dict[int, float], want_min: float, want_jain: float
) -> None:
    assert fairness(attainment) == pytest.approx((want_min, want_jain))


# A whole plan by hand -------------------------------------------------------------------------------------------------


def test_metrics_of_a_small_plan_by_hand() -> None:
    m = metrics_of(three_categories(), PLACEMENTS)
    # GPU-hours as run: a1 4·4·0.5 = 8 (on A100), a2 8, b1 2, d1 1.
    assert m.gpu_hours == pytest.approx(19.0)
    assert m.gpu_hours_by_category == pytest.approx({"a": 16.0, "b": 2.0, "c": 0.0, "d": 1.0})
    # Work on the fastest type: a1 4, a2 8, b1 2, d1 1; value 0.8·4 + 0.5·8 + 1.0·2 + 0.9·1.
    assert m.work == pytest.approx(15.0)
    assert m.value == pytest.approx(10.1)
    # Demand: a 4 + 8 = 12, b 2 + 40 = 42; c has none (c1 never fits) and d has no share: both left out.
    # W = 12 + 2 = 14 over shares 0.5 and 0.3: λ = 17.5, fair a 8.75, b 5.25, nothing capped.
    assert set(m.attainment) == {"a", "b"}
    assert m.attainment["a"] == pytest.approx(12 / 8.75)
    assert m.attainment["b"] == pytest.approx(2 / 5.25)
    assert m.categories["a"].demand_work == pytest.approx(12.0)
    assert m.categories["b"].demand_work == pytest.approx(42.0)
    assert m.categories["a"].fair_share_work == pytest.approx(8.75)
    assert m.categories["c"].demand_work == 0.0
    assert m.categories["c"].fair_share_work == 0.0
    assert m.categories["d"].share == 0.0
    assert (m.categories["b"].requests, m.categories["b"].assigned) == (2, 1)
    # Capped at 1: a 1, b 0.38095; Jain = (1 + x)² / (2 (1 + x²)).
    x = 2 / 5.25
    assert m.min_attainment == pytest.approx(x)
    assert m.jain == pytest.approx((1 + x) ** 2 / (2 * (1 + x * x)))
    assert (m.assigned, m.rejected) == (4, 2)


def test_energy_and_co2_with_pue_and_per_slot_intensity() -> None:
    plan = plan_of(three_categories(), PLACEMENTS)
    by_request = {a.request: a for a in plan.assignments}
    # a1: 4 A100 · 0.4 kW · 0.5 h · 4 slots · PUE 1.0 = 3.2 kWh, at 250 g/kWh = 0.8 kg.
    assert by_request["a1"].energy_kwh == pytest.approx(3.2)
    assert by_request["a1"].co2_kg == pytest.approx(0.8)
    # a2: 4 H100 · 0.7 kW · 0.5 h · PUE 1.25 = 1.75 kWh per slot, 7.0 kWh over [5, 9),
    #     CO2 1.75 · (300 + 400 + 400 + 500) = 2800 g.
    assert by_request["a2"].energy_kwh == pytest.approx(7.0)
    assert by_request["a2"].co2_kg == pytest.approx(2.8)
    # b1: 2 H100 · 0.7 · 0.5 · 1.25 = 0.875 kWh per slot over [0, 2): 1.75 kWh, 0.875 · 200 = 175 g.
    assert by_request["b1"].energy_kwh == pytest.approx(1.75)
    assert by_request["b1"].co2_kg == pytest.approx(0.175)
    # d1: 1 A100 · 0.4 · 0.5 · 2 = 0.4 kWh, 100 g.
    assert by_request["d1"].energy_kwh == pytest.approx(0.4)
    assert by_request["d1"].co2_kg == pytest.approx(0.1)
    assert plan.metrics.energy_mwh == pytest.approx((3.2 + 7.0 + 1.75 + 0.4) / 1000)
    assert plan.metrics.co2_t == pytest.approx((800 + 2800 + 175 + 100) / 1e6)


def test_utilisation_is_per_cluster_over_available_gpu_slots() -> None:
    m = metrics_of(three_categories(), PLACEMENTS)
    # north: a2 4·4 + b1 2·2 = 20 GPU-slots of 60 available after maintenance; south: a1 4·4 + d1 1·2 = 18 of 80.
    assert m.utilisation == pytest.approx({"north": 20 / 60, "south": 18 / 80})


def test_a_slower_type_costs_gpu_hours_but_does_no_more_work() -> None:
    on_a100 = metrics_of(three_categories(), {"a1": ("south", "A100", 0)})
    on_h100 = metrics_of(three_categories(), {"a1": ("north", "H100", 0)})
    assert (on_a100.gpu_hours, on_a100.work) == pytest.approx((8.0, 4.0))  # 4 GPUs · 4 slots · 0.5 h, but 2 slots' work
    assert (on_h100.gpu_hours, on_h100.work) == pytest.approx((4.0, 4.0))
    assert on_a100.value == on_h100.value == pytest.approx(0.8 * 4.0)
    assert on_a100.attainment == on_h100.attainment


def test_an_empty_plan_scores_zero_everywhere() -> None:
    m = metrics_of(three_categories(), {})
    assert (m.gpu_hours, m.work, m.value, m.energy_mwh, m.co2_t) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert m.attainment == {"a": 0.0, "b": 0.0}
    assert (m.min_attainment, m.jain) == (0.0, 0.0)
    assert m.utilisation == {"north": 0.0, "south": 0.0}
    assert (m.assigned, m.rejected) == (0, 6)


def test_what_a_capped_category_cannot_use_goes_to_the_others() -> None:
    # Shares a 0.5 and b 0.5; demand a 12, b 42.  Assign a2 (work 8), b1 (2) and b2 (40): W = 50, so λ·0.5 = 25
    # at first; a's demand of 12 caps it, and the 13 it cannot use go to b: fair a 12, b 38.
    problem = three_categories({"a": 0.5, "b": 0.5})
    m = metrics_of(problem, {"a2": ("north", "H100", 5), "b1": ("north", "H100", 0), "b2": ("south", "A100", 0)})
    assert m.categories["a"].fair_share_work == pytest.approx(12.0)
    assert m.categories["b"].fair_share_work == pytest.approx(38.0)
    assert m.attainment == pytest.approx({"a": 8 / 12, "b": 42 / 38})
    assert m.min_attainment == pytest.approx(8 / 12)


# Independent recomputation on random plans ---------------------------------------------------------------------------


def _fits_alone(problem: Problem, r: Request) -> bool:
    """Some (cluster, type, start) obeys rules 2–9 in an empty plan: written out slot by slot."""
    h = problem.horizon.slot_hours
    pol = problem.policy
    capacity = sum(
        max(0, n - sum(u.gpus for u in c.unavailable if u.gpu_type == g and u.from_slot <= t < u.to_slot))
        for c in problem.clusters
        for g, n in c.gpus.items()
        for t in range(problem.horizon.slots)
    ) * h
    for c in problem.clusters:
        if r.countries is not None and c.country not in r.countries:
            continue
        for g, rt in r.runtime_slots.items():
            if c.gpus.get(g, 0) <= 0:
                continue
            kw = r.gpus * problem.gpu_types[g].tdp_watts / 1000
            if c.power_cap_kw is not None and kw > c.power_cap_kw + 1e-6:
                continue
            if pol.energy_budget_mwh is not None and kw * h * rt * c.pue > 1000 * pol.energy_budget_mwh + 1e-6:
                continue
            if pol.org_cap_share is not None and r.gpus * rt * h > pol.org_cap_share * capacity + 1e-6:
                continue
            for s in range(r.earliest_slot, problem.deadline(r) - rt + 1):
                free = [
                    c.gpus[g] - sum(u.gpus for u in c.unavailable if u.gpu_type == g and u.from_slot <= t < u.to_slot)
                    for t in range(s, s + rt)
                ]
                grams = sum(kw * h * c.pue * c.intensity(t) for t in range(s, s + rt))
                if min(free) >= r.gpus and (
                    pol.carbon_budget_t is None or grams <= 1e6 * pol.carbon_budget_t + 1e-6
                ):
                    return True
    return False


def _water_fill_by_bisection(total: float, shares: list[float], demands: list[float]) -> list[float]:
    if total <= 0:
        return [0.0] * len(shares)
    lo, hi = 0.0, total / min(shares) + 1.0
    for _ in range(200):
        lam = (lo + hi) / 2
        if sum(min(lam * s, d) for s, d in zip(shares, demands, strict=True)) < total:
            lo = lam
        else:
            hi = lam
    return [min(hi * s, d) for s, d in zip(shares, demands, strict=True)]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=16, max_clusters=3, max_slots=24))
def test_metrics_match_an_independent_recomputation(problem: Problem) -> None:
    index = compile_problem(problem)
    plan = decode(Context.build(index, solver_fits_alone(index)), baseline(index, "fifo"), get("fair"))
    m = plan.metrics
    h = problem.horizon.slot_hours
    by_id = {r.id: r for r in problem.requests}
    shares = problem.policy.category_shares
    categories = sorted({r.category for r in problem.requests} | set(shares))

    def work(r: Request) -> float:
        return r.gpus * min(r.runtime_slots.values()) * h

    demand: defaultdict[str, float] = defaultdict(float)
    for r in problem.requests:
        if _fits_alone(problem, r):
            demand[r.category] += work(r)
    got: defaultdict[str, float] = defaultdict(float)
    for a in plan.assignments:
        got[by_id[a.request].category] += work(by_id[a.request])
    counted = [c for c in categories if shares.get(c, 0.0) > 0 and demand[c] > 0]
    fair = _water_fill_by_bisection(sum(got[c] for c in counted), [shares[c] for c in counted],
                                    [demand[c] for c in counted])
    want = {c: (got[c] / f if f > 0 else 0.0) for c, f in zip(counted, fair, strict=True)}
    assert m.attainment == pytest.approx(want, rel=1e-6, abs=1e-9)
    for c in categories:
        assert m.categories[c].demand_work == pytest.approx(demand[c])
    capped = [min(1.0, a) for a in want.values()]
    if capped and sum(capped) > 0:
        assert m.min_attainment == pytest.approx(min(capped), abs=1e-6)
        assert m.jain == pytest.approx(sum(capped) ** 2 / (len(capped) * sum(x * x for x in capped)), abs=1e-6)
    else:
        assert (m.min_attainment, m.jain) == (0.0, 0.0)
    assert m.gpu_hours == pytest.approx(sum(by_id[a.request].gpus * (a.end_slot - a.start_slot) * h
                                            for a in plan.assignments))
    assert m.value == pytest.approx(sum(by_id[a.request].merit * work(by_id[a.request]) for a in plan.assignments))
    for site in problem.clusters:
        avail = sum(
            max(0, n - sum(u.gpus for u in site.unavailable if u.gpu_type == g and u.from_slot <= t < u.to_slot))
            for g, n in site.gpus.items()
            for t in range(problem.horizon.slots)
        )
        used = sum(
            by_id[a.request].gpus * (a.end_slot - a.start_slot) for a in plan.assignments if a.cluster == site.id
        )
        assert m.utilisation[site.id] == pytest.approx(used / avail if avail else 0.0)
    assert math.isfinite(m.energy_mwh) and math.isfinite(m.co2_t)
