"""Tiny problems, solved to the optimum: the value policy reaches the brute-force optimum, the bound is never
below it, and a binding energy budget is spent the best way."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.policies import NAMES
from solver.problem import Cluster, Problem, Request
from solver.search import solve
from solver.verify import verify
from tests.solver.figures import PARAMS, energy_kwh, kw_of, work
from tests.solver.worlds import req, world

# 2. Tiny problems: the value policy reaches the brute-force optimum ---------------------------------------------------


@st.composite
def tiny_contended(draw: st.DrawFn, energy: bool = True) -> Problem:
    """At most 5 requests, 2 clusters and 10 slots; pools of 4 or 8 GPUs and gangs of 2 to 8 for long stretches,
    so that most draws ask for more than fits and the requests compete for GPUs, power and budgets."""
    slots = draw(st.integers(4, 10))
    clusters = []
    for i in range(draw(st.integers(1, 2))):
        gpus = {"H100": draw(st.sampled_from([4, 8]))} | draw(st.sampled_from([{}, {"A100": 4}]))
        cluster: dict[str, Any] = {
            "id": f"cl-{i}",
            "country": ["DE", "FR"][i],
            "gpus": gpus,
            "power_cap_kw": draw(st.sampled_from([None, None, 4.2, 5.6])),
            "pue": draw(st.sampled_from([1.0, 1.2])),
        }
        if draw(st.integers(0, 3)) == 0:
            lo = draw(st.integers(0, slots - 1))
            withdrawn = draw(st.integers(1, gpus["H100"]))
            hi = draw(st.integers(lo + 1, slots))
            cluster["unavailable"] = [{"gpu_type": "H100", "gpus": withdrawn, "from_slot": lo, "to_slot": hi}]
        clusters.append(cluster)
    requests = []
    for i in range(draw(st.integers(3, 5))):
        types = draw(st.sampled_from([["H100"], ["H100"], ["A100"], ["H100", "A100"]]))
        runtime = {g: draw(st.integers(max(1, slots // 4), slots // 2 + 1)) for g in types}
        earliest = draw(st.integers(0, slots - max(runtime.values())))
        deadline = draw(st.none() | st.integers(earliest + min(runtime.values()), slots))
        requests.append(
            {
                "id": f"r{i}",
                "org": draw(st.sampled_from(["org-a", "org-b"])),
                "category": draw(st.sampled_from(["research", "industry"])),
                "gpus": draw(st.sampled_from([2, 4, 4, 8])),
                "runtime_slots": runtime,
                "earliest_slot": earliest,
                "deadline_slot": deadline,
                "countries": draw(st.sampled_from([None, None, None, ["DE"], ["FR"]])),
                "merit": draw(st.sampled_from([0.2, 0.5, 0.8, 0.9]) | st.floats(0.0, 1.0)),
            }
        )
    policy = {
        "category_shares": draw(st.sampled_from([{}, {"research": 0.5, "industry": 0.5}])),
        "org_cap_share": draw(st.sampled_from([None, None, 0.3, 0.5])),
        "energy_budget_mwh": draw(st.sampled_from([None, 0.01, 0.03])) if energy else None,
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


Option = tuple[Cluster, str, int, int]  # cluster, GPU type, start, end


class Usage:
    """What a partial placement uses, slot by slot: deliberately naive and separate from the solver's book."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        slots = problem.horizon.slots
        self.free = {
            (c.id, g): [
                max(0, n - sum(u.gpus for u in c.unavailable if u.gpu_type == g and u.from_slot <= t < u.to_slot))
                for t in range(slots)
            ]
            for c in problem.clusters
            for g, n in c.gpus.items()
        }
        self.kw = {c.id: [0.0] * slots for c in problem.clusters}
        self.kwh = 0.0
        self.hours: defaultdict[str, float] = defaultdict(float)
        capacity = sum(sum(f) for f in self.free.values()) * problem.horizon.slot_hours
        share = problem.policy.org_cap_share
        self.org_cap = math.inf if share is None else share * capacity
        budget = problem.policy.energy_budget_mwh
        self.energy_cap = math.inf if budget is None else 1000.0 * budget

    def fits(self, r: Request, o: Option) -> bool:
        c, g, s, e = o
        kw = kw_of(self.p, r, g)
        if any(self.free[(c.id, g)][t] < r.gpus for t in range(s, e)):
            return False
        if c.power_cap_kw is not None and any(self.kw[c.id][t] + kw > c.power_cap_kw + 1e-6 for t in range(s, e)):
            return False
        if self.kwh + energy_kwh(self.p, r, c, g, s, e) > self.energy_cap + 1e-6:
            return False
        return self.hours[r.org] + r.gpus * (e - s) * self.p.horizon.slot_hours <= self.org_cap + 1e-6

    def take(self, r: Request, o: Option, sign: int = 1) -> None:
        c, g, s, e = o
        for t in range(s, e):
            self.free[(c.id, g)][t] -= sign * r.gpus
            self.kw[c.id][t] += sign * kw_of(self.p, r, g)
        self.kwh += sign * energy_kwh(self.p, r, c, g, s, e)
        self.hours[r.org] += sign * r.gpus * (e - s) * self.p.horizon.slot_hours


def options(problem: Problem, r: Request) -> list[Option]:
    """Every (cluster, type, start) that rules 2–4 allow."""
    return [
        (c, g, s, s + rt)
        for c in problem.clusters
        if r.countries is None or c.country in r.countries
        for g, rt in sorted(r.runtime_slots.items())
        if c.gpus.get(g, 0) > 0
        for s in range(r.earliest_slot, problem.deadline(r) - rt + 1)
    ]


def placeable(usage: Usage, todo: list[Request], opts: dict[str, list[Option]]) -> bool:
    """Can every request in ``todo`` be placed beside what ``usage`` holds?  Depth first, with forward checking."""
    if not todo:
        return True
    r, rest = todo[0], todo[1:]
    for o in opts[r.id]:
        if usage.fits(r, o):
            usage.take(r, o)
            ok = all(any(usage.fits(q, p) for p in opts[q.id]) for q in rest) and placeable(usage, rest, opts)
            usage.take(r, o, -1)
            if ok:
                return True
    return False


def brute_force_value(problem: Problem) -> float:
    """The best value of any valid plan: subsets in falling value order, the first placeable one wins."""
    opts = {r.id: options(problem, r) for r in problem.requests}
    empty = Usage(problem)
    alone = [r for r in problem.requests if any(empty.fits(r, o) for o in opts[r.id])]
    subsets = [s for k in range(len(alone) + 1) for s in itertools.combinations(alone, k)]
    subsets.sort(key=lambda s: -sum(q.merit * work(problem, q) for q in s))
    for s in subsets:
        if placeable(Usage(problem), sorted(s, key=lambda q: len(opts[q.id])), opts):
            return sum(q.merit * work(problem, q) for q in s)
    raise AssertionError("the empty plan is always placeable")


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_contended(energy=True))
def test_value_policy_reaches_the_brute_force_optimum_on_tiny_problems(problem: Problem) -> None:
    best = brute_force_value(problem)
    plan = solve(problem, "value", PARAMS)
    assert verify(problem, plan) == []
    # CP-SAT weighs merit in thousandths, so the optimum is only exact to that resolution.
    slack = 1e-3 * sum(work(problem, r) for r in problem.requests) + 1e-9
    assert plan.metrics.value >= best - slack
    assert plan.solver.bound >= best - 1e-6


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_contended(energy=True))
def test_the_bound_is_never_below_the_brute_force_optimum(problem: Problem) -> None:
    best = brute_force_value(problem)
    for policy in NAMES:
        plan = solve(problem, policy, PARAMS)
        assert verify(problem, plan) == []
        assert plan.solver.bound >= best - 1e-6
        assert plan.metrics.value <= best + 1e-6, "no valid plan is worth more than the optimum"


ENERGY_PRICED_OUT = world(
    req("a", 2, {"H100": 2}, merit=0.9),
    req("b", 2, {"H100": 1}, merit=0.9),
    req("c", 4, {"H100": 2}, merit=0.5),
    slots=4,
    policy={"energy_budget_mwh": 0.0084},
)


def test_value_policy_spends_a_binding_energy_budget_optimally() -> None:
    # 8.4 kWh: a (2.8 kWh, value 3.6) + c (5.6 kWh, value 4.0) fill it exactly; b (1.4 kWh, 1.8) is the greedy's pick.
    assert brute_force_value(ENERGY_PRICED_OUT) == pytest.approx(7.6)
    plan = solve(ENERGY_PRICED_OUT, "value", PARAMS)
    assert verify(ENERGY_PRICED_OUT, plan) == []
    assert plan.metrics.value == pytest.approx(7.6)


CARBON_LATE_WINDOW = world(
    req("a", 16, {"H100": 2}),
    req("b", 16, {"H100": 2}, earliest_slot=1, deadline_slot=4),
    req("c", 16, {"H100": 2}, earliest_slot=2, deadline_slot=4),
    slots=4,
    jsc={"carbon_intensity": 100.0},
    policy={"carbon_budget_t": 1.0},
)


def test_a_carbon_budget_with_a_late_window_does_not_crash() -> None:
    # Two of the three 16-GPU jobs fit the 4 slots; the one left over sends the greedy's plan to CP-SAT.
    plan = solve(CARBON_LATE_WINDOW, "value", PARAMS)
    assert verify(CARBON_LATE_WINDOW, plan) == []
    assert len(plan.assignments) == 2
