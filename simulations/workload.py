"""Seeded, Philly-shaped demand: requests for the policy simulations and problems for the solver benchmark.

A Philly job is one training run; a request to a public allocator books a gang for a campaign.  We keep
Philly's *shapes* (calibration.py) and map them to requests in three documented steps:

1. Gang: a Philly gang size ``g`` is booked as ``g × 2^K`` GPUs, ``K`` uniform on ``replicas_log2``
   (data-parallel replicas or a sweep run as one gang), clipped to ``[1, max_gang]``.
2. Runtime: a Philly duration ``d`` (drawn from its gang bucket's quantile table, so big gangs run longer)
   is stretched rank-preservingly to ``m · (d / d50)^γ`` hours, where ``d50``/``d99`` are the 1-GPU
   median/p99 and ``m``, ``γ`` send them to ``runtime_median_hours``/``runtime_p99_hours``.  Philly's
   seconds-long runs become one slot, its month-long tail is cut at ``max_runtime_slots``.  That is the
   runtime on an H100; other types take ``speed`` × as long (an A100 1.8–2.2×).
3. Arrival: a Poisson process with ``arrivals_per_day`` × Philly's hour-of-day and day-of-week factors
   × ``(1 + growth_per_month)^months``; a request starts no later than the horizon allows it to finish.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulations.calibration import DURATION_PROBS, PHILLY, Calibration
from simulations.clusters import GPU_TYPES, deliverable_mwh, european_clusters, largest_gang, offered_gpu_slots, sized
from solver.problem import Cluster, GpuType, Horizon, PolicyConfig, Problem, Request

# Runtime on each type relative to an H100, as a (low, high) range sampled per request.
SPEED: dict[str, tuple[float, float]] = {
    "H100": (1.0, 1.0), "H200": (0.8, 0.9), "A100": (1.8, 2.2), "MI250X": (1.5, 1.9), "L40S": (2.6, 3.4),
}  # fmt: skip
DAYS_PER_MONTH = 30.44


class DemandModel(BaseModel):
    """The knobs a funding scenario turns; defaults are a plausible mid-sized public call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arrivals_per_day: float = Field(100.0, gt=0)
    growth_per_month: float = Field(0.0, gt=-1.0)
    categories: dict[str, float] = {
        "university": 0.35,
        "sme": 0.25,
        "public_sector": 0.15,
        "civil_society": 0.1,
        "industry": 0.15,
    }
    orgs: int = Field(60, ge=1)
    zipf_exponent: float = Field(1.1, ge=0)
    merit_beta: tuple[float, float] = (4.0, 2.0)
    slack: tuple[float, float] = (1.5, 4.0)  # deadline = earliest + fastest runtime × U(slack)
    residency_share: float = Field(0.2, ge=0, le=1)
    residency_countries: tuple[int, int] = (1, 3)
    flexible_share: float = Field(0.5, ge=0, le=1)  # requests accepting two or more GPU types
    speed: dict[str, tuple[float, float]] = SPEED
    replicas_log2: tuple[int, int] = (0, 5)
    runtime_median_hours: float = Field(6.0, gt=0)
    runtime_p99_hours: float = Field(72.0, gt=0)
    max_runtime_slots: int = Field(72, ge=1)
    max_gang: int = Field(128, ge=1)

    @model_validator(mode="after")
    def _ranges(self) -> DemandModel:
        """Ranges must be ordered, and slack at least 1 so a deadline always leaves room to finish."""
        ranges: dict[str, tuple[float, float]] = {"slack": self.slack, "replicas_log2": self.replicas_log2}
        ranges |= {"residency_countries": self.residency_countries}
        ranges |= {f"speed[{g}]": r for g, r in self.speed.items()}
        for name, (lo, hi) in ranges.items():
            if lo > hi:
                raise ValueError(f"{name}: low end {lo} is above high end {hi}")
        if self.slack[0] < 1.0 or self.residency_countries[0] < 1 or self.replicas_log2[0] < 0:
            raise ValueError("slack must be >= 1, residency_countries >= 1 and replicas_log2 >= 0")
        if not self.categories or min(self.categories.values()) < 0 or sum(self.categories.values()) <= 0:
            raise ValueError("categories need non-negative weights with a positive sum")
        if min(lo for lo, _ in self.speed.values()) <= 0:
            raise ValueError("speed factors must be positive")
        return self


def sample_jobs(
    model: DemandModel, n: int, rng: np.random.Generator, cal: Calibration = PHILLY
) -> tuple[np.ndarray, np.ndarray]:
    """Gang sizes and H100 runtimes in hours of ``n`` requests (steps 1 and 2 of the module docstring)."""
    sizes = np.array(cal.gang_sizes)
    probs = np.array(cal.gang_probs) / sum(cal.gang_probs)
    philly = rng.choice(sizes, size=n, p=probs)
    u = rng.random(n)
    hours = np.empty(n)
    for b in range(len(cal.duration_quantiles_h)):
        mask = np.array([cal.bucket(int(g)) == b for g in sizes])[np.searchsorted(sizes, philly)]
        log_q = np.log(np.array(cal.duration_quantiles_h[b]))
        hours[mask] = np.exp(np.interp(u[mask], DURATION_PROBS, log_q))
    lo, hi = model.replicas_log2
    gangs = np.clip(philly * 2 ** rng.integers(lo, hi + 1, size=n), 1, model.max_gang)
    one_gpu = cal.duration_quantiles_h[0]
    d50, d99 = one_gpu[DURATION_PROBS.index(0.5)], one_gpu[DURATION_PROBS.index(0.99)]
    gamma = math.log(model.runtime_p99_hours / model.runtime_median_hours) / math.log(d99 / d50)
    return gangs.astype(np.int64), model.runtime_median_hours * (hours / d50) ** gamma


def arrival_rate(model: DemandModel, horizon: Horizon, first_slot: int = 0, cal: Calibration = PHILLY) -> np.ndarray:
    """Expected arrivals in each slot from ``first_slot`` to the end of the horizon.

    Philly's hour-of-day factors are read at the slot's clock hour, its day-of-week factors by weekday
    (trace day 0 as Monday): the trace has no calendar, so only the shapes carry over.
    """
    rates = []
    for t in range(first_slot, horizon.slots):
        at = horizon.start + timedelta(minutes=horizon.slot_minutes * t)
        hours = max(1, round(horizon.slot_hours))
        hod = sum(cal.hour_of_day[(at.hour + k) % 24] for k in range(hours)) / hours
        months = (at - horizon.start).total_seconds() / 86400.0 / DAYS_PER_MONTH
        growth = (1.0 + model.growth_per_month) ** months
        rates.append(model.arrivals_per_day * horizon.slot_hours / 24.0 * hod * cal.day_of_week[at.weekday()] * growth)
    return np.array(rates)


def _orgs(model: DemandModel, n: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Category and organisation of each request: categories by mix, organisations Zipf within a category."""
    names = sorted(model.categories)
    weights = np.array([model.categories[c] for c in names])
    cats = rng.choice(len(names), size=n, p=weights / weights.sum())
    org_of = np.empty(n, dtype=np.int64)
    for ci, name in enumerate(names):
        members = max(1, round(model.orgs * model.categories[name] / weights.sum()))
        zipf = 1.0 / np.arange(1, members + 1) ** model.zipf_exponent
        mask = cats == ci
        org_of[mask] = rng.choice(members, size=int(mask.sum()), p=zipf / zipf.sum())
    categories = [names[c] for c in cats]
    return categories, [f"{c.replace('_', '-')}-{o + 1:03d}" for c, o in zip(categories, org_of, strict=True)]


def generate_requests(
    model: DemandModel,
    clusters: list[Cluster],
    gpu_types: dict[str, GpuType],
    horizon: Horizon,
    rng: np.random.Generator,
    *,
    id_prefix: str = "req",
    first_slot: int = 0,
    n: int | None = None,
) -> list[Request]:
    """Requests arriving in ``[first_slot, horizon.slots)``: Poisson many, or exactly ``n``.

    Every request can run somewhere on its own: its types exist in a cluster of an allowed country that
    holds (and may power) its whole gang, else the gang shrinks to the largest such power of two.
    """
    window = horizon.slots - first_slot
    if window <= 0:
        raise ValueError(f"first_slot {first_slot} is not inside the horizon ({horizon.slots} slots)")
    largest = largest_gang(clusters, gpu_types)
    countries = sorted({c.country for c in clusters})
    typed = sorted({g for c in clusters for g in c.gpus if g in model.speed and g in gpu_types})
    if not typed:
        raise ValueError("no cluster offers a GPU type that both gpu_types and model.speed describe")
    stock = {g: sum(c.gpus.get(g, 0) for c in clusters) for g in typed}
    column = {g: j for j, g in enumerate(sorted(model.speed))}
    rate = arrival_rate(model, horizon, first_slot)
    cum = np.concatenate([[0.0], np.cumsum(rate)])
    # Every draw is made up front, in a fixed number, so resized clusters change requests smoothly.
    count = int(rng.poisson(rate.sum())) if n is None else n
    gangs, hours = sample_jobs(model, count, rng)
    categories, orgs = _orgs(model, count, rng)
    merit = rng.beta(*model.merit_beta, size=count)
    slack = rng.uniform(*model.slack, size=count)
    when = rng.random(count)
    resident = rng.random(count) < model.residency_share
    n_countries = rng.integers(model.residency_countries[0], model.residency_countries[1] + 1, size=count)
    country_keys = rng.random((count, len(countries)))
    flexible = rng.random(count) < model.flexible_share
    n_extra = rng.integers(1, 3, size=count)
    type_u = rng.random(count)
    type_keys = rng.random((count, len(column)))
    speed_u = rng.random((count, len(column)))
    max_rt = min(model.max_runtime_slots, window)
    out: list[Request] = []
    for i in range(count):
        allowed = None
        if resident[i]:
            allowed = sorted(countries[j] for j in np.argsort(country_keys[i])[: n_countries[i]])
        fits = {g: max(largest.get((c, g), 0) for c in (allowed or countries)) for g in typed}
        fits = {g: f for g, f in fits.items() if f > 0}
        if not fits:  # the allowed countries host none of the modelled types: drop the limit
            allowed = None
            fits = {g: f for g in typed if (f := max(largest.get((c, g), 0) for c in countries)) > 0}
        gang = int(gangs[i])
        if max(fits.values()) < gang:
            gang = 2 ** int(math.log2(max(fits.values())))
        ok = sorted(g for g, f in fits.items() if f >= gang)
        cdf = np.cumsum([stock[g] for g in ok]) / sum(stock[g] for g in ok)
        chosen = [ok[min(int(np.searchsorted(cdf, type_u[i], side="right")), len(ok) - 1)]]
        if flexible[i]:
            others = sorted((g for g in ok if g != chosen[0]), key=lambda g: type_keys[i, column[g]])
            chosen += others[: n_extra[i]]
        base = hours[i] / horizon.slot_hours
        runtime = {}
        for g in sorted(chosen):
            lo, hi = model.speed[g]
            runtime[g] = int(np.clip(math.ceil(base * (lo + speed_u[i, column[g]] * (hi - lo)) - 1e-9), 1, max_rt))
        fastest = min(runtime.values())
        last = window - fastest  # latest start, relative to first_slot, that still finishes in the horizon
        start = int(np.searchsorted(cum, when[i] * cum[last + 1], side="right")) - 1
        earliest = first_slot + min(max(start, 0), last)
        deadline = min(horizon.slots, earliest + math.ceil(fastest * slack[i]))
        out.append(
            Request(
                id=f"{id_prefix}-{i:05d}",
                org=orgs[i],
                category=categories[i],
                gpus=gang,
                runtime_slots=runtime,
                earliest_slot=earliest,
                deadline_slot=deadline,
                countries=allowed,
                merit=round(float(merit[i]), 3),
            )
        )
    return out


# --- solver benchmark -------------------------------------------------------------------------------------

BenchSize = Literal["S", "M", "L", "X"]
# size: (requests, clusters, hourly slots, organisations)
BENCH_SIZES: dict[str, tuple[int, int, int, int]] = {
    "S": (300, 4, 168, 30),
    "M": (2_000, 12, 168, 80),
    "L": (10_000, 30, 336, 200),
    "X": (25_000, 40, 336, 300),
}
BENCH_START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday in early spring: solar dip, heating still on
BENCH_MODEL = DemandModel(
    categories={"university": 0.4, "sme": 0.25, "civil_society": 0.1, "public_sector": 0.1, "industry": 0.15},
    residency_share=0.25,
    replicas_log2=(0, 6),
    runtime_median_hours=10.0,
)
BENCH_POLICY = PolicyConfig(
    category_shares={"university": 0.4, "sme": 0.25, "civil_society": 0.2, "public_sector": 0.15},
    org_cap_share=0.15,
)
TARGET_RATIO, RATIO_TOLERANCE, RATIO_BAND = 2.0, 0.25, (1.5, 2.5)  # aim at 2×; fail loudly outside the band
ENERGY_SHARE = 0.65  # budget: this share of the energy the sites could deliver at full use under their caps


def demand_ratio(problem: Problem) -> float:
    """Work asked (GPU-hours on each request's fastest type) over GPU-hours the clusters offer."""
    return sum(problem.work(r) for r in problem.requests) / problem.gpu_hour_capacity()


def bench_problem(size: BenchSize, seed: int) -> Problem:
    """A benchmark instance whose demand is ~2× capacity and whose every hard rule binds somewhere.

    Sites are scaled by one factor (whole nodes, 64–2048 GPUs each) to offer half the work asked, first
    for a pilot sample's mean work, then for the requests actually drawn.  Where the sites cannot shrink
    further (few sites, many small requests), runtimes are stretched instead.  Requests are redrawn from
    the same stream each time, so the instance is a pure function of ``(size, seed)``.
    """
    n, k, slots, orgs = BENCH_SIZES[size]
    names = ("clusters", "pilot", "requests")
    streams = dict(zip(names, np.random.SeedSequence([seed, ord(size)]).spawn(len(names)), strict=True))
    horizon = Horizon(start=BENCH_START, slot_minutes=60, slots=slots)
    model = BENCH_MODEL.model_copy(update={"orgs": orgs})
    base = european_clusters(k, np.random.default_rng(streams["clusters"]), slots, start=BENCH_START)
    gangs, hours = sample_jobs(model, 4_000, np.random.default_rng(streams["pilot"]))
    work = n * float(np.mean(gangs * np.clip(np.ceil(hours), 1, model.max_runtime_slots)))
    tried: list[tuple[float, float, Problem]] = []  # (distance from target, ratio, problem)
    for _ in range(6):
        asked = work / TARGET_RATIO
        clusters = sized(base, asked, slots)
        gpu_types = {g: GPU_TYPES[g] for g in sorted({g for c in clusters for g in c.gpus})}
        rng = np.random.default_rng(streams["requests"])
        requests = generate_requests(model, clusters, gpu_types, horizon, rng, id_prefix=f"{size.lower()}{seed}", n=n)
        problem = Problem(horizon=horizon, gpu_types=gpu_types, clusters=clusters, requests=requests)
        ratio = demand_ratio(problem)
        tried.append((abs(ratio - TARGET_RATIO), ratio, problem))
        if abs(ratio - TARGET_RATIO) <= RATIO_TOLERANCE:
            break
        offered = offered_gpu_slots(clusters, slots)
        # Damped: site sizes feed back into the type mix requests pick, hence into their runtimes.
        work = math.sqrt(work * ratio * offered)
        if ratio < TARGET_RATIO and offered > 1.05 * asked:  # sites are at their floor: ask for longer runs
            stretch = min(2.0, TARGET_RATIO / ratio)
            model = model.model_copy(update={"runtime_median_hours": model.runtime_median_hours * stretch})
    _, ratio, problem = min(tried, key=lambda t: t[0])
    if not RATIO_BAND[0] <= ratio <= RATIO_BAND[1]:
        raise RuntimeError(f"bench {size}/{seed}: demand ratio {ratio:.2f} is outside {RATIO_BAND}")
    budget = round(ENERGY_SHARE * deliverable_mwh(problem), 1)
    policy = BENCH_POLICY.model_copy(update={"energy_budget_mwh": budget})
    return problem.model_copy(update={"policy": policy})
