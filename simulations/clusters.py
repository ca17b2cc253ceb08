"""European GPU sites for simulations and benchmarks: real board power, country grid carbon, PUE, power caps.

Numbers are public ballpark figures, not measurements of any one site:

- ``GPU_TYPES``: board power (TDP) and memory of the SXM/OAM parts a public site would buy.
- ``GRID``: mean grid carbon intensity per country in gCO2e/kWh (2023 annual averages, rounded; Ember /
  EEA orders of magnitude), and how deep solar cuts it at midday.
- ``carbon_profile`` gives one value per slot: the country mean × a seasonal factor (winter +, summer −)
  × a daily shape (solar dip around 13:00, evening peak around 19:00 when solar is gone and demand is high).
  Hours are read from ``start`` as given (take it as local time).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from solver.problem import Cluster, GpuType, Problem, Unavailability, available

GPU_TYPES: dict[str, GpuType] = {
    "A100": GpuType(tdp_watts=400.0, memory_gb=80.0),
    "H100": GpuType(tdp_watts=700.0, memory_gb=80.0),
    "H200": GpuType(tdp_watts=700.0, memory_gb=141.0),
    "L40S": GpuType(tdp_watts=350.0, memory_gb=48.0),
    "MI250X": GpuType(tdp_watts=560.0, memory_gb=128.0),
}
# How often a site fields each type: H100 is the workhorse of current public AI factories.
TYPE_WEIGHTS: dict[str, float] = {"H100": 0.35, "A100": 0.25, "H200": 0.15, "L40S": 0.15, "MI250X": 0.10}

# country: (mean gCO2e/kWh, midday solar dip as a fraction of the mean, weight of hosting a site)
GRID: dict[str, tuple[float, float, float]] = {
    "DE": (363.0, 0.22, 3.0),
    "FR": (55.0, 0.05, 2.5),
    "IT": (250.0, 0.20, 2.0),
    "ES": (150.0, 0.30, 2.0),
    "NL": (300.0, 0.18, 1.5),
    "FI": (80.0, 0.03, 1.5),
    "SE": (40.0, 0.03, 1.5),
    "PL": (650.0, 0.10, 1.0),
    "AT": (110.0, 0.12, 0.8),
    "BE": (150.0, 0.12, 0.8),
    "CZ": (430.0, 0.10, 0.8),
    "DK": (140.0, 0.08, 0.8),
    "IE": (290.0, 0.04, 0.8),
    "PT": (160.0, 0.25, 0.8),
}
SEASONAL_AMPLITUDE = 0.12  # January is this much above the annual mean, July this much below
MIN_SITE_GPUS, MAX_SITE_GPUS = 64, 2048
GPU_QUANTUM = 8  # GPUs come in nodes of eight
DEFAULT_START = datetime(2025, 3, 3)  # a Monday


def _daily(hour: float, solar_dip: float) -> float:
    """Relative intensity over the day: a Gaussian solar trough at 13:00 and an evening ramp at 19:00."""
    solar = solar_dip * math.exp(-(((hour - 13.0) / 2.5) ** 2))
    evening = 0.5 * solar_dip * math.exp(-(((hour - 19.5) / 2.0) ** 2)) + 0.04 * math.exp(-(((hour - 19.0) / 2.5) ** 2))
    return 1.0 - solar + evening


def carbon_profile(country: str, start: datetime, slots: int, slot_minutes: int = 60) -> list[float]:
    """gCO2e/kWh of ``country``'s grid in each slot, averaged over the slot's midpoint."""
    mean, dip, _ = GRID[country]
    out: list[float] = []
    for t in range(slots):
        at = start + timedelta(minutes=slot_minutes * (t + 0.5))
        day_of_year = at.timetuple().tm_yday + at.hour / 24.0
        seasonal = 1.0 + SEASONAL_AMPLITUDE * math.cos(2.0 * math.pi * (day_of_year - 15.0) / 365.25)
        # Summer sun is stronger, so the midday trough deepens as the seasonal factor falls.
        solar_dip = dip * (2.0 - seasonal)
        out.append(round(mean * seasonal * _daily(at.hour + at.minute / 60.0, solar_dip), 1))
    return out


def full_draw_kw(gpus: dict[str, int]) -> float:
    """IT power of every GPU at board power: what a ``power_cap_kw`` is compared with (PUE excluded)."""
    return sum(n * GPU_TYPES[g].tdp_watts for g, n in gpus.items()) / 1000.0


def _split(total: int, types: list[str], rng: np.random.Generator) -> dict[str, int]:
    """Split ``total`` GPUs over ``types`` in whole nodes, each type getting at least one node."""
    nodes = max(total // GPU_QUANTUM, len(types))
    shares = rng.dirichlet(np.full(len(types), 2.0))
    counts = np.maximum(1, np.floor(shares * nodes).astype(np.int64))
    counts[int(np.argmax(shares))] += nodes - int(counts.sum())
    return {g: int(c) * GPU_QUANTUM for g, c in sorted(zip(types, counts, strict=True)) if c > 0}


def european_clusters(
    n: int,
    rng: np.random.Generator,
    slots: int,
    *,
    start: datetime = DEFAULT_START,
    slot_minutes: int = 60,
    capped_share: float = 0.35,
    maintenance_share: float = 0.3,
) -> list[Cluster]:
    """``n`` sites over EU countries, sizes 64–2048 GPUs (log-normal, median ~400).

    About ``capped_share`` of sites get a power cap of 55–85 % of their full draw, so the cap binds, and
    about ``maintenance_share`` withdraw part of one GPU type for 4–24 slots.  With two or more sites, at
    least one of each is guaranteed, so benchmarks always exercise both rules.
    """
    countries = sorted(GRID)
    weights = np.array([GRID[c][2] for c in countries])
    types = sorted(GPU_TYPES)
    type_w = np.array([TYPE_WEIGHTS[g] for g in types])
    capped = rng.random(n) < capped_share
    maintained = rng.random(n) < maintenance_share
    if n >= 2 and not capped.any():
        capped[int(rng.integers(n))] = True
    if n >= 2 and not maintained.any():
        maintained[int(rng.integers(n))] = True
    clusters: list[Cluster] = []
    for i in range(n):
        country = countries[int(rng.choice(len(countries), p=weights / weights.sum()))]
        size = int(np.clip(rng.lognormal(math.log(400.0), 0.8), MIN_SITE_GPUS, MAX_SITE_GPUS))
        k = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        picked = list(rng.choice(len(types), size=k, replace=False, p=type_w / type_w.sum()))
        gpus = _split(size, [types[j] for j in picked], rng)
        pue = round(float(rng.uniform(1.1, 1.5)), 2)
        cap = round(full_draw_kw(gpus) * float(rng.uniform(0.55, 0.85)), 1) if capped[i] else None
        unavailable = []
        if maintained[i] and slots >= 2:
            g = sorted(gpus)[int(rng.integers(len(gpus)))]
            length = int(rng.integers(4, 25))
            begin = int(rng.integers(0, max(1, slots - length)))
            withdrawn = max(GPU_QUANTUM, int(gpus[g] * rng.uniform(0.25, 0.5)) // GPU_QUANTUM * GPU_QUANTUM)
            end = min(slots, begin + length)
            unavailable.append(Unavailability(gpu_type=g, gpus=min(withdrawn, gpus[g]), from_slot=begin, to_slot=end))
        clusters.append(
            Cluster(
                id=f"{country.lower()}-{i + 1:02d}",
                country=country,
                operator=f"{country} public AI site {i + 1}",
                gpus=gpus,
                power_cap_kw=cap,
                pue=pue,
                carbon_intensity=carbon_profile(country, start, slots, slot_minutes),
                unavailable=unavailable,
            )
        )
    return clusters


def rescaled(cluster: Cluster, factor: float) -> Cluster:
    """The same site with ``factor`` × its GPUs (whole nodes, total kept in 64–2048), cap and windows to match."""
    total = sum(cluster.gpus.values())
    target = min(MAX_SITE_GPUS, max(MIN_SITE_GPUS, total * factor))
    real = target / total
    gpus = {g: max(GPU_QUANTUM, round(n * real / GPU_QUANTUM) * GPU_QUANTUM) for g, n in cluster.gpus.items()}
    cap = None
    if cluster.power_cap_kw is not None:
        cap = round(cluster.power_cap_kw * full_draw_kw(gpus) / full_draw_kw(cluster.gpus), 1)
    windows = [
        u.model_copy(update={"gpus": max(1, min(gpus[u.gpu_type], round(u.gpus * real)))}) for u in cluster.unavailable
    ]
    return cluster.model_copy(update={"gpus": gpus, "power_cap_kw": cap, "unavailable": windows})


def deliverable_mwh(problem: Problem) -> float:
    """Facility energy if every available GPU ran at board power in every slot, within each power cap."""
    total_kwh = 0.0
    for c in problem.clusters:
        watts = sum(
            np.array(available(c, g, problem.horizon.slots)) * problem.gpu_types[g].tdp_watts for g in c.gpus
        )
        if c.power_cap_kw is not None:
            watts = np.minimum(watts, c.power_cap_kw * 1000.0)
        total_kwh += float(np.sum(watts)) / 1000.0 * problem.horizon.slot_hours * c.pue
    return total_kwh / 1000.0


def offered_gpu_slots(clusters: list[Cluster], slots: int) -> int:
    """GPU-slots on offer, less maintenance (exact while a site has at most one window per type)."""
    windows = [(c, u) for c in clusters for u in c.unavailable]
    withdrawn = sum(min(u.gpus, c.gpus[u.gpu_type]) * (u.to_slot - u.from_slot) for c, u in windows)
    return sum(sum(c.gpus.values()) for c in clusters) * slots - withdrawn


def sized(base: list[Cluster], gpu_slots: float, slots: int) -> list[Cluster]:
    """``base`` scaled by one factor, found by bisection, so that they offer about ``gpu_slots``."""
    lo, hi = 1e-3, 1e3
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if offered_gpu_slots([rescaled(c, mid) for c in base], slots) < gpu_slots:
            lo = mid
        else:
            hi = mid
    return [rescaled(c, hi) for c in base]


def largest_gang(clusters: list[Cluster], gpu_types: dict[str, GpuType]) -> dict[tuple[str, str], int]:
    """(country, type) -> the largest gang one cluster there can run at once, under its power cap."""
    out: dict[tuple[str, str], int] = {}
    for c in clusters:
        for g, count in c.gpus.items():
            fit = count if c.power_cap_kw is None else min(count, int(c.power_cap_kw * 1000 // gpu_types[g].tdp_watts))
            out[(c.country, g)] = max(out.get((c.country, g), 0), fit)
    return out
