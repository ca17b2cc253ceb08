"""The figures of a plan, exactly as the plan-file contract defines them.

- GPU-hours as run: ``gpus × runtime_slots[type] × slot_hours``; work: the same on
  the request's fastest listed type; value: ``Σ merit × work`` over assignments.
- Demand of a category: the work of its requests that fit on their own (some
  option obeys rules 2–9 in an otherwise empty plan).
- Fair share: the weighted max-min (water-filling) split of the total work the
  plan assigns to categories with a share: ``fair_c = min(λ·share_c, demand_c)``
  with ``Σ fair_c = W``.  Attainment ``= work_c / fair_c``.  Categories with zero
  share or zero demand are left out.  ``min_attainment`` and Jain's index use
  attainments capped at 1; a plan that assigns nothing scores 0 on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from solver.index import Index
from solver.placements import Placement, PlacementBook
from solver.plan import CategoryMetrics, Metrics


def fits_alone(index: Index) -> np.ndarray:
    """Boolean per request: does some option obey rules 2–9 in an empty plan?"""
    empty = PlacementBook(index)
    return np.array([empty.fits(r) for r in range(index.n)], dtype=bool)


def water_fill(total: float, shares: Sequence[float], demands: Sequence[float]) -> list[float]:
    """Split ``total`` by ``shares``, capping each part at its demand and passing the excess on."""
    fair = [0.0] * len(shares)
    active = [i for i in range(len(shares)) if shares[i] > 0 and demands[i] > 0]
    remaining = total
    while active and remaining > 1e-12:
        weight = sum(shares[i] for i in active)
        lam = remaining / weight
        capped = [i for i in active if lam * shares[i] >= demands[i] - fair[i]]
        if not capped:
            for i in active:
                fair[i] += lam * shares[i]
            break
        for i in capped:
            remaining -= demands[i] - fair[i]
            fair[i] = demands[i]
        active = [i for i in active if i not in capped]
    return fair


def fair_shares(index: Index, work_by_cat: np.ndarray, demand_by_cat: np.ndarray) -> dict[int, float]:
    """Fair share of work per counted category (share > 0 and demand > 0), keyed by category position."""
    counted = [c for c in range(len(index.categories)) if index.share[c] > 0 and demand_by_cat[c] > 0]
    total = float(sum(work_by_cat[c] for c in counted))
    fair = water_fill(total, [float(index.share[c]) for c in counted], [float(demand_by_cat[c]) for c in counted])
    return dict(zip(counted, fair, strict=True))


def attainments(index: Index, work_by_cat: np.ndarray, demand_by_cat: np.ndarray) -> dict[int, float]:
    """Attainment per counted category: its work over its fair share (0 when the plan assigns nothing)."""
    return attained(work_by_cat, fair_shares(index, work_by_cat, demand_by_cat))


def attained(work_by_cat: np.ndarray, fair: Mapping[int, float]) -> dict[int, float]:
    return {c: (float(work_by_cat[c]) / f if f > 0 else 0.0) for c, f in fair.items()}


def fairness(att: Mapping[int, float]) -> tuple[float, float]:
    """(min attainment, Jain's index), both over attainments capped at 1."""
    xs = [min(1.0, a) for a in att.values()]
    if not xs or sum(xs) == 0:
        return 0.0, 0.0
    return min(xs), sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def demand_by_category(index: Index, alone: np.ndarray) -> np.ndarray:
    return np.bincount(index.category[alone], weights=index.work[alone], minlength=len(index.categories))


def compute(index: Index, placed: Mapping[int, Placement], alone: np.ndarray) -> Metrics:
    cats = index.categories
    work = np.zeros(len(cats))
    gpu_hours = np.zeros(len(cats))
    assigned = np.zeros(len(cats), dtype=np.int64)
    energy = co2 = value = 0.0
    used_slots = np.zeros(len(index.cluster_ids))
    for r, p in placed.items():
        o = index.options[r][p.option]
        c = int(index.category[r])
        work[c] += index.work[r]
        gpu_hours[c] += o.gpu_hours
        assigned[c] += 1
        value += float(index.merit[r] * index.work[r])
        energy += o.energy_kwh
        co2 += index.co2_g(o, p.start)
        used_slots[o.cluster] += index.gpus[r] * o.runtime
    demand = demand_by_category(index, alone)
    fair_by_cat = fair_shares(index, work, demand)
    att = attained(work, fair_by_cat)
    counts = np.bincount(index.category, minlength=len(cats))
    min_att, jain = fairness(att)
    avail_slots = np.bincount(index.pool_cluster, weights=index.pool_cap.sum(axis=1), minlength=len(index.cluster_ids))
    return Metrics(
        gpu_hours=float(gpu_hours.sum()),
        gpu_hours_by_category={cats[c]: float(gpu_hours[c]) for c in range(len(cats))},
        work=float(work.sum()),
        value=value,
        attainment={cats[c]: a for c, a in att.items()},
        categories={
            cats[c]: CategoryMetrics(
                share=float(index.share[c]),
                demand_work=float(demand[c]),
                fair_share_work=fair_by_cat.get(c, 0.0),
                work=float(work[c]),
                gpu_hours=float(gpu_hours[c]),
                attainment=att.get(c, 0.0),
                requests=int(counts[c]),
                assigned=int(assigned[c]),
            )
            for c in range(len(cats))
        },
        min_attainment=min_att,
        jain=jain,
        energy_mwh=energy / 1000.0,
        co2_t=co2 / 1e6,
        utilisation={
            cid: (float(used_slots[i] / avail_slots[i]) if avail_slots[i] > 0 else 0.0)
            for i, cid in enumerate(index.cluster_ids)
        },
        assigned=len(placed),
        rejected=index.n - len(placed),
    )
