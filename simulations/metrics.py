"""The figures a policy maker asks for, computed from a run's outcomes and round records.

Definitions (all pure functions, checked by hand in ``tests/simulations/test_metrics.py``):

- Acceptance: ``served / (served + expired)``.  Requests still ``open`` when the run ends (their
  deadline lies past it) are censored, so they count in neither part.
- GPU-hours by category: GPUs × slots as run × slot hours, over served requests.
- Waiting time: ``start − earliest`` in hours, over served requests (a carried-over request waits
  across rounds).
- Utilisation of a site: GPU-hours used over GPU-hours offered (after maintenance and build-out).
- Energy (MWh) and tCO2 as the plans report them, CO2 priced on the true grid profile.
- SCI per GPU-hour, after the Green Software Foundation's SCI: ``(E × I + M) / R``, with ``E × I`` the
  operational emissions above, ``R`` the GPU-hours served, and ``M`` the embodied emissions of every
  installed GPU over the hours of the run: ``M = embodied_kg_per_gpu × installed GPU-hours / lifetime
  hours``.  The programme reserves whole sites, so idle hardware is charged to the work it does serve:
  low utilisation raises SCI.
- Across organisations (every organisation that asked, with what it received, zeros included):
  Jain's index ``(Σx)² / (n Σx²)``; Gini ``Σ_i Σ_j |x_i − x_j| / (2 n² x̄)``; the share of the ten
  organisations that received most; the Lorenz curve.  All on GPU-hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulations.records import Outcome, RunResult
from solver.sci import SciSpec, sci

TOP = 10


def jain(xs: Sequence[float]) -> float:
    """Jain's fairness index: 1 when all are equal, 1/n when one takes everything; 0 for nothing."""
    a = np.asarray(xs, dtype=np.float64)
    sq = float(np.sum(a * a))
    return float(np.sum(a)) ** 2 / (a.size * sq) if a.size and sq > 0 else 0.0


def gini(xs: Sequence[float]) -> float:
    """Gini coefficient: 0 when all are equal, (n−1)/n when one takes everything; 0 for nothing."""
    a = np.sort(np.asarray(xs, dtype=np.float64))
    n, total = a.size, float(np.sum(a))
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * a) / (n * total) - (n + 1.0) / n)


def top_share(xs: Sequence[float], k: int = TOP) -> float:
    """Share of the total held by the ``k`` largest."""
    a = np.sort(np.asarray(xs, dtype=np.float64))[::-1]
    total = float(np.sum(a))
    return float(np.sum(a[:k])) / total if total > 0 else 0.0


def lorenz(xs: Sequence[float]) -> tuple[list[float], list[float]]:
    """Population share and cumulative share of the total, poorest first, from (0, 0) to (1, 1)."""
    a = np.sort(np.asarray(xs, dtype=np.float64))
    total = float(np.sum(a))
    if a.size == 0 or total <= 0:
        return [0.0, 1.0], [0.0, 1.0]
    return np.linspace(0, 1, a.size + 1).tolist(), np.concatenate([[0.0], np.cumsum(a) / total]).tolist()


def acceptance(outcomes: Sequence[Outcome]) -> float:
    served = sum(o.status == "served" for o in outcomes)
    resolved = served + sum(o.status == "expired" for o in outcomes)
    return served / resolved if resolved else 0.0


def waiting_hours(outcomes: Sequence[Outcome], slot_hours: float) -> np.ndarray:
    return np.array([(o.start_slot - o.arrival_slot) * slot_hours for o in outcomes if o.status == "served"])


def org_gpu_hours(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """GPU-hours received by every organisation that asked, zeros included."""
    out: dict[str, float] = defaultdict(float)
    for o in outcomes:
        out[o.org] += o.gpu_hours
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Summary:
    requests: int
    served: int
    expired: int
    open: int
    acceptance: float
    acceptance_by_category: dict[str, float]
    gpu_hours: float
    gpu_hours_by_category: dict[str, float]
    wait_mean_h: float
    wait_p50_h: float
    wait_p90_h: float
    wait_p99_h: float
    wait_max_h: float
    utilisation: float
    utilisation_by_cluster: dict[str, float]
    energy_mwh: float
    co2_t: float
    embodied_t: float
    sci_g_per_gpu_h: float
    orgs: int
    jain_orgs: float
    gini_orgs: float
    top10_share: float
    mean_min_attainment: float
    digest: str

    def flat(self) -> dict[str, float | int | str]:
        """One row for a table: dicts spread into ``name.key`` columns."""
        row: dict[str, float | int | str] = {}
        for name, value in vars(self).items():
            if isinstance(value, dict):
                row |= {f"{name}.{k}": v for k, v in value.items()}
            else:
                row[name] = value
        return row


def summarise(result: RunResult, sci_spec: SciSpec) -> Summary:
    out = result.outcomes
    slot_h = result.slot_minutes / 60.0
    cats = sorted({o.category for o in out})
    by_cat = {c: [o for o in out if o.category == c] for c in cats}
    wait = waiting_hours(out, slot_h)
    used: dict[str, float] = defaultdict(float)
    offered: dict[str, float] = defaultdict(float)
    for r in result.rounds:
        for c, days in r.daily_used_gpu_h.items():
            used[c] += sum(days)
            offered[c] += sum(r.daily_offered_gpu_h[c])
    gpu_hours = sum(o.gpu_hours for o in out)
    co2_kg = sum(o.co2_kg for o in out)
    embodied_kg = sci_spec.kg_per_gpu_hour * result.installed_gpu_hours
    orgs = list(org_gpu_hours(out).values())

    def q(p: float) -> float:
        return float(np.percentile(wait, p)) if wait.size else 0.0

    return Summary(
        requests=len(out),
        served=sum(o.status == "served" for o in out),
        expired=sum(o.status == "expired" for o in out),
        open=sum(o.status == "open" for o in out),
        acceptance=acceptance(out),
        acceptance_by_category={c: acceptance(v) for c, v in by_cat.items()},
        gpu_hours=gpu_hours,
        gpu_hours_by_category={c: sum(o.gpu_hours for o in v) for c, v in by_cat.items()},
        wait_mean_h=float(wait.mean()) if wait.size else 0.0,
        wait_p50_h=q(50),
        wait_p90_h=q(90),
        wait_p99_h=q(99),
        wait_max_h=float(wait.max()) if wait.size else 0.0,
        utilisation=sum(used.values()) / sum(offered.values()) if sum(offered.values()) > 0 else 0.0,
        utilisation_by_cluster={c: used[c] / offered[c] if offered[c] > 0 else 0.0 for c in sorted(offered)},
        energy_mwh=sum(o.energy_kwh for o in out) / 1000.0,
        co2_t=co2_kg / 1000.0,
        embodied_t=embodied_kg / 1000.0,
        sci_g_per_gpu_h=sci(co2_kg, embodied_kg, gpu_hours),
        orgs=len(orgs),
        jain_orgs=jain(orgs),
        gini_orgs=gini(orgs),
        top10_share=top_share(orgs),
        mean_min_attainment=float(np.mean([r.min_attainment for r in result.rounds])) if result.rounds else 0.0,
        digest=result.digest(),
    )
