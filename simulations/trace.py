"""Replay the Philly trace as requests: ``allmende simulate SCENARIO.yaml --trace philly``.

Each Philly job (Jeon et al., ATC'19; ``../shared/traces/philly_normalized.csv``) becomes one request:

1. arrival: its submit offset from the trace's first job, counted from the scenario's start, is its
   earliest slot;
2. size and runtime: its GPUs, shrunk to the largest power of two that some online site can hold and
   power (as the generator does), and its duration rounded up to whole slots and capped at
   ``demand.max_runtime_slots``, as the runtime on an H100; other types take ``demand.speed`` × as long;
3. GPU types: one drawn in proportion to the GPUs installed, plus one or two others for a share
   ``demand.flexible_share`` of requests;
4. who and how urgent: Philly has no field that maps to an organisation, so each job gets a seeded
   synthetic category (``demand.categories``) and organisation (Zipf within its category), a merit,
   a deadline ``earliest + ⌈fastest × U(slack)⌉`` and, for ``demand.residency_share``, allowed countries.

Every random number is drawn up front, a fixed count per job, from the run's ``trace`` stream.  The
trace spans ~109 days; rounds past its end receive nothing new.  Only this module reads the trace, and
a missing trace is reported by :func:`locate` returning ``None``, never by an exception at import.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simulations.clusters import largest_gang
from simulations.demand import stream
from simulations.scenario import Scenario
from solver.problem import Cluster, GpuType, Horizon, Request

TRACES = {"philly": "philly_normalized.csv"}
REPO = Path(__file__).resolve().parents[1]


def locate(name: str = "philly", repo: Path | None = None) -> Path | None:
    """The trace file under ``<repo>/../shared/traces``, or ``None`` when it is absent."""
    path = (repo or REPO) / ".." / "shared" / "traces" / TRACES[name]
    return path.resolve() if path.is_file() else None


def read_philly(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Durations (s), GPUs and submit offsets (s from the first job), in submit order."""
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    order = np.argsort(data[:, 3], kind="stable")
    data = data[order]
    return data[:, 0], data[:, 1].astype(np.int64), data[:, 3] - data[:, 3].min()


class PhillyReplay:
    """A :class:`~simulations.demand.DemandSource` that hands out Philly's jobs round by round."""

    def __init__(self, scenario: Scenario, path: Path) -> None:
        s, m = scenario, scenario.demand
        self.scenario = s
        duration_s, gpus, offset_s = read_philly(path)
        slot_s = 60.0 * s.slot_minutes
        self.span_days = float(offset_s.max()) / 86400.0 if offset_s.size else 0.0
        keep = offset_s < s.total_slots * slot_s
        self.arrival = (offset_s[keep] // slot_s).astype(np.int64)
        self.gpus = np.clip(gpus[keep], 1, m.max_gang)
        self.h100 = np.clip(np.ceil(duration_s[keep] / slot_s - 1e-9), 1, min(m.max_runtime_slots, s.round_slots))
        n = int(keep.sum())
        rng = stream(s.seed, "trace")
        self.types = sorted(m.speed)
        names = sorted(m.categories)
        weights = np.array([m.categories[c] for c in names])
        self.category = [names[i] for i in rng.choice(len(names), size=n, p=weights / weights.sum())]
        self.org_u = rng.random(n)
        self.merit = rng.beta(*m.merit_beta, size=n)
        self.slack = rng.uniform(*m.slack, size=n)
        self.resident = rng.random(n) < m.residency_share
        self.n_countries = rng.integers(m.residency_countries[0], m.residency_countries[1] + 1, size=n)
        self.country_u = rng.random((n, 32))
        self.flexible = rng.random(n) < m.flexible_share
        self.n_extra = rng.integers(1, 3, size=n)
        self.type_u = rng.random(n)
        self.type_keys = rng.random((n, len(self.types)))
        self.speed_u = rng.random((n, len(self.types)))
        cdfs = {c: _zipf_cdf(max(1, round(m.orgs * m.categories[c] / weights.sum())), m.zipf_exponent) for c in names}
        self.org = [_org(c, cdfs[c], u) for c, u in zip(self.category, self.org_u, strict=True)]

    def work_per_round(self) -> float:
        """Work asked per round over the rounds the trace reaches (it spans ~15.5 weeks)."""
        s = self.scenario
        reached = math.ceil((int(self.arrival.max()) + 1) / s.round_slots) if self.arrival.size else 1
        return float(np.sum(self.gpus * self.h100)) * s.slot_hours / max(1, min(s.rounds, reached))

    def arrivals(
        self, k: int, horizon: Horizon, clusters: list[Cluster], gpu_types: dict[str, GpuType]
    ) -> list[Request]:
        s, m = self.scenario, self.scenario.demand
        first = k * s.round_slots
        lo, hi = np.searchsorted(self.arrival, [first, first + s.round_slots])
        largest = largest_gang(clusters, gpu_types)
        countries = sorted({c.country for c in clusters})
        typed = [g for g in self.types if g in gpu_types and any(g in c.gpus for c in clusters)]
        stock = {g: sum(c.gpus.get(g, 0) for c in clusters) for g in typed}
        max_rt = min(m.max_runtime_slots, s.round_slots)
        out = []
        for i in range(int(lo), int(hi)):
            allowed = None
            if self.resident[i]:
                keys = self.country_u[i, : len(countries)]
                allowed = sorted(countries[j] for j in np.argsort(keys)[: self.n_countries[i]])
            fits = {g: f for g in typed if (f := max(largest.get((c, g), 0) for c in (allowed or countries))) > 0}
            if not fits:
                allowed = None
                fits = {g: f for g in typed if (f := max(largest.get((c, g), 0) for c in countries)) > 0}
            gang = int(self.gpus[i])
            if max(fits.values()) < gang:
                gang = 2 ** int(math.log2(max(fits.values())))
            ok = sorted(g for g, f in fits.items() if f >= gang)
            cdf = np.cumsum([stock[g] for g in ok]) / sum(stock[g] for g in ok)
            chosen = [ok[min(int(np.searchsorted(cdf, self.type_u[i], side="right")), len(ok) - 1)]]
            if self.flexible[i]:
                col = {g: j for j, g in enumerate(self.types)}
                others = sorted((g for g in ok if g != chosen[0]), key=lambda g: self.type_keys[i, col[g]])
                chosen += others[: self.n_extra[i]]
            runtime = {}
            for g in sorted(chosen):
                a, b = m.speed[g]
                factor = a + self.speed_u[i, self.types.index(g)] * (b - a)
                runtime[g] = int(np.clip(math.ceil(self.h100[i] * factor - 1e-9), 1, max_rt))
            fastest = min(runtime.values())
            earliest = int(self.arrival[i])
            out.append(Request(
                id=f"philly-{i:06d}", org=self.org[i], category=self.category[i], gpus=gang, runtime_slots=runtime,
                earliest_slot=earliest, deadline_slot=earliest + math.ceil(fastest * self.slack[i]),
                countries=allowed, merit=round(float(self.merit[i]), 3),
            ))
        return out


def _zipf_cdf(members: int, exponent: float) -> np.ndarray:
    """CDF over a category's organisations, sized as the generator sizes them (``orgs`` × its weight)."""
    zipf = 1.0 / np.arange(1, members + 1) ** exponent
    cdf: np.ndarray = np.cumsum(zipf) / zipf.sum()
    return cdf


def _org(category: str, cdf: np.ndarray, u: float) -> str:
    rank = min(int(np.searchsorted(cdf, u, side="right")), cdf.size - 1)
    return f"{category.replace('_', '-')}-{rank + 1:03d}"
