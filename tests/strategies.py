"""Hypothesis strategies for problems and plans, written out because pydantic v2 has no plugin.

``problems()`` draws small but complete problems: every optional feature
(countries, power caps, maintenance windows, per-slot carbon, shares, org cap,
energy and carbon budgets) appears in some draws, so properties exercise them.
``valid_plans(problem)`` places requests with :func:`sequential_plan`, a
brute-force first-fit placer that re-checks every hard rule slot by slot, and
``arbitrary_plans(problem)`` draws placements that may break any rule.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from solver.plan import REASONS, Assignment, Plan, Rejection
from solver.problem import Cluster, GpuType, Horizon, PolicyConfig, Problem, Request, Unavailability

GPU_TYPES = {"H100": 700.0, "A100": 400.0, "MI250X": 560.0}
COUNTRIES = ["DE", "FR", "NL", "IT"]
ORGS = ["org-a", "org-b", "org-c"]
CATEGORIES = ["research", "industry", "education"]
START = datetime(2025, 1, 6, tzinfo=UTC)


@st.composite
def _cluster(draw: st.DrawFn, index: int, types: list[str], slots: int) -> Cluster:
    listed = draw(st.lists(st.sampled_from(types), min_size=1, max_size=len(types), unique=True))
    gpus = {g: draw(st.sampled_from([0, 4, 8, 8, 16, 16]) | st.integers(0, 16)) for g in listed}
    unavailable = []
    for g in [g for g in listed if gpus[g] > 0]:
        for _ in range(draw(st.integers(0, 2))):
            lo = draw(st.integers(0, slots - 1))
            hi = draw(st.integers(lo + 1, slots))
            unavailable.append(Unavailability(gpu_type=g, gpus=draw(st.integers(1, gpus[g])), from_slot=lo, to_slot=hi))
    carbon: float | list[float] = draw(
        st.one_of(
            st.integers(0, 500).map(float),
            st.lists(st.integers(0, 500).map(float), min_size=slots, max_size=slots),
        )
    )
    return Cluster(
        id=f"cl-{index}",
        country=draw(st.sampled_from(COUNTRIES)),
        gpus=gpus,
        power_cap_kw=draw(st.none() | st.sampled_from([1.4, 5.6, 11.2, 16.8, 22.4])),
        pue=draw(st.sampled_from([1.0, 1.1, 1.25, 1.5])),
        carbon_intensity=carbon,
        unavailable=unavailable,
    )


@st.composite
def _request(draw: st.DrawFn, index: int, types: list[str], slots: int) -> Request:
    listed = draw(st.lists(st.sampled_from(types), min_size=1, max_size=len(types), unique=True))
    earliest = draw(st.integers(0, slots // 4) | st.integers(0, slots - 1))
    deadline = draw(st.none() | st.none() | st.integers(earliest + 1, slots))
    return Request(
        id=f"req-{index}",
        org=draw(st.sampled_from(ORGS)),
        category=draw(st.sampled_from(CATEGORIES)),
        gpus=draw(st.sampled_from([1, 2, 4, 8]) | st.sampled_from([1, 2, 4])),
        runtime_slots={
            g: draw(st.integers(1, max(1, slots // 4)) | st.integers(1, max(1, slots // 2))) for g in listed
        },
        earliest_slot=earliest,
        deadline_slot=deadline,
        countries=draw(
            st.none() | st.none() | st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True)
        ),
        merit=draw(st.floats(0.0, 1.0)),
    )


@st.composite
def shares(draw: st.DrawFn, categories: list[str]) -> dict[str, float]:
    """Shares from integer weights, the last one fixed so the sum is 1 within float rounding."""
    weights = [draw(st.integers(1, 10)) for _ in categories]
    total = sum(weights)
    out = {c: w / total for c, w in zip(categories[:-1], weights[:-1], strict=True)}
    out[categories[-1]] = 1.0 - sum(out.values())
    return out


@st.composite
def policies(draw: st.DrawFn, categories: list[str]) -> PolicyConfig:
    return PolicyConfig(
        category_shares=draw(st.just({}) | shares(categories)),
        org_cap_share=draw(st.none() | st.sampled_from([0.2, 0.5, 1.0]) | st.floats(0.05, 1.0)),
        energy_budget_mwh=draw(st.none() | st.floats(0.0, 2.0)),
        carbon_budget_t=draw(st.none() | st.floats(0.0, 0.5)),
    )


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    max_requests: int = 30,
    max_clusters: int = 4,
    max_slots: int = 48,
    max_gpu_types: int = 3,
    min_requests: int = 1,
) -> Problem:
    """A small valid problem; keyword arguments bound its size for slower properties."""
    slots = draw(st.integers(min(4, max_slots), max_slots))
    types = list(GPU_TYPES)[: draw(st.integers(1, min(max_gpu_types, len(GPU_TYPES))))]
    n_clusters = draw(st.integers(1, max_clusters))
    n_requests = draw(st.integers(min_requests, max_requests))
    requests = [draw(_request(i, types, slots)) for i in range(n_requests)]
    return Problem(
        horizon=Horizon(start=START, slot_minutes=draw(st.sampled_from([15, 30, 60])), slots=slots),
        gpu_types={g: GpuType(tdp_watts=GPU_TYPES[g]) for g in types},
        clusters=[draw(_cluster(i, types, slots)) for i in range(n_clusters)],
        requests=requests,
        policy=draw(policies(sorted({r.category for r in requests}))),
    )


# Plans ----------------------------------------------------------------------------------------------------------------


class _Ledger:
    """Slot-by-slot bookkeeping for the brute-force placer; deliberately naive and separate from solver code."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        slots, h = problem.horizon.slots, problem.horizon.slot_hours
        self.free: dict[tuple[str, str, int], int] = {}
        for c in problem.clusters:
            for g, n in c.gpus.items():
                for t in range(slots):
                    withdrawn = sum(u.gpus for u in c.unavailable if u.gpu_type == g and u.from_slot <= t < u.to_slot)
                    self.free[(c.id, g, t)] = max(0, n - withdrawn)
        self.org_limit = None
        if problem.policy.org_cap_share is not None:
            self.org_limit = problem.policy.org_cap_share * sum(self.free.values()) * h
        self.watts: dict[tuple[str, int], float] = defaultdict(float)
        self.org_hours: dict[str, float] = defaultdict(float)
        self.kwh = 0.0
        self.grams = 0.0

    def _cost(self, r: Request, c: Cluster, g: str, start: int, end: int) -> tuple[float, float, float]:
        h = self.p.horizon.slot_hours
        kw = r.gpus * self.p.gpu_types[g].tdp_watts / 1000.0 * c.pue
        return (
            kw * h * (end - start),
            sum(kw * h * c.intensity(t) for t in range(start, end)),
            r.gpus * (end - start) * h,
        )

    def fits(self, r: Request, c: Cluster, g: str, start: int, end: int) -> bool:
        watts = r.gpus * self.p.gpu_types[g].tdp_watts
        for t in range(start, end):
            if self.free[(c.id, g, t)] < r.gpus:
                return False
            if c.power_cap_kw is not None and (self.watts[(c.id, t)] + watts) / 1000.0 > c.power_cap_kw:
                return False
        kwh, grams, hours = self._cost(r, c, g, start, end)
        pol = self.p.policy
        if pol.energy_budget_mwh is not None and self.kwh + kwh > 1000.0 * pol.energy_budget_mwh:
            return False
        if pol.carbon_budget_t is not None and self.grams + grams > 1e6 * pol.carbon_budget_t:
            return False
        return self.org_limit is None or self.org_hours[r.org] + hours <= self.org_limit

    def take(self, r: Request, c: Cluster, g: str, start: int, end: int) -> None:
        for t in range(start, end):
            self.free[(c.id, g, t)] -= r.gpus
            self.watts[(c.id, t)] += r.gpus * self.p.gpu_types[g].tdp_watts
        kwh, grams, hours = self._cost(r, c, g, start, end)
        self.kwh += kwh
        self.grams += grams
        self.org_hours[r.org] += hours


def sequential_plan(problem: Problem, order: list[int] | None = None, latest_first: bool = False) -> Plan:
    """Place each request at the first (cluster, type, start) where a brute-force check passes, else reject it.

    Trivially correct rather than clever: the reference a checker must accept.
    """
    ledger = _Ledger(problem)
    assignments: list[Assignment] = []
    rejected: list[Rejection] = []
    for i in order if order is not None else range(len(problem.requests)):
        r = problem.requests[i]
        placed = _first_fit(problem, ledger, r, latest_first)
        if placed is None:
            rejected.append(Rejection(request=r.id, reason="capacity", detail="no start passes every check"))
        else:
            assignments.append(placed)
    return Plan(assignments=assignments, rejected=rejected)


def _first_fit(problem: Problem, ledger: _Ledger, r: Request, latest_first: bool) -> Assignment | None:
    for c in problem.clusters:
        if r.countries is not None and c.country not in r.countries:
            continue
        for g, runtime in r.runtime_slots.items():
            if c.gpus.get(g, 0) <= 0:
                continue
            starts = range(r.earliest_slot, problem.deadline(r) - runtime + 1)
            for s in reversed(starts) if latest_first else starts:
                if ledger.fits(r, c, g, s, s + runtime):
                    ledger.take(r, c, g, s, s + runtime)
                    return Assignment(request=r.id, cluster=c.id, gpu_type=g, start_slot=s, end_slot=s + runtime)
    return None


@st.composite
def valid_plans(draw: st.DrawFn, problem: Problem) -> Plan:
    """A plan that breaks no rule: the sequential placer over a drawn order, some requests rejected outright."""
    order = draw(st.permutations(range(len(problem.requests))))
    skip = draw(st.sets(st.sampled_from(range(len(problem.requests))), max_size=3)) if problem.requests else set()
    plan = sequential_plan(problem, [i for i in order if i not in skip], draw(st.booleans()))
    skipped = [
        Rejection(request=problem.requests[i].id, reason=draw(st.sampled_from(sorted(REASONS))), detail="skipped")
        for i in sorted(skip)
    ]
    return plan.model_copy(update={"rejected": plan.rejected + skipped})


@st.composite
def arbitrary_plans(draw: st.DrawFn, problem: Problem) -> Plan:
    """Any placement of each request, plausible or not: many break some rule, some break none."""
    slots = problem.horizon.slots
    assignments: list[Assignment] = []
    rejected: list[Rejection] = []
    for r in problem.requests:
        if draw(st.booleans()):
            rejected.append(Rejection(request=r.id, reason=draw(st.sampled_from(sorted(REASONS))), detail="drawn"))
            continue
        c = draw(st.sampled_from(problem.clusters))
        g = draw(st.sampled_from(sorted(r.runtime_slots)) | st.sampled_from(sorted(set(r.runtime_slots) | set(c.gpus))))
        start = draw(st.integers(0, slots - 1))
        end = (
            start + r.runtime_slots[g]
            if g in r.runtime_slots and draw(st.booleans())
            else draw(st.integers(start + 1, slots))
        )
        assignments.append(Assignment(request=r.id, cluster=c.id, gpu_type=g, start_slot=start, end_slot=end))
    return Plan(assignments=assignments, rejected=rejected)


def as_data(problem: Problem) -> dict[str, Any]:
    """The problem as a file would hold it, for tests that break one field and re-validate."""
    return problem.model_dump(mode="json")


@st.composite
def contended(draw: st.DrawFn) -> Problem:
    """A small crowded problem whose shares name every category and give one of them nothing: what stability
    properties need (the share-0 category is entitled only to what no shared category can use)."""
    problem = draw(problems(max_requests=12, max_clusters=2, max_slots=12, min_requests=4))
    weights = {c: draw(st.integers(1, 5)) for c in CATEGORIES[:2]}
    total = sum(weights.values())
    category_shares = {"research": weights["research"] / total, "industry": 0.0,
                       "education": weights["industry"] / total}
    policy = problem.policy.model_copy(update={"category_shares": category_shares})
    return problem.model_copy(update={"policy": PolicyConfig.model_validate(policy.model_dump())})
