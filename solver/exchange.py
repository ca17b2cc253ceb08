"""Ruin and recreate on the energy budget: the one move that trades energy across the whole plan.

Neighbourhoods are local in cluster and time, but the energy budget is global: a
neighbourhood can only spend the energy its own jobs give back.  When the budget
binds, this move lifts out the jobs that earn the least value per kWh (a given
fraction of the budget) and lets the policy's own greedy refill the plan, best
value per kWh first, on each request's least-energy option.  The result is kept
only if the policy's score rises.
"""

from __future__ import annotations

import numpy as np

from solver.guide import Guide
from solver.placements import Placement, PlacementBook
from solver.policies import Context, Policy

BINDING = 0.01  # the budget binds when less than this share of it is left


def binding(ctx: Context, book: PlacementBook) -> bool:
    budget = ctx.index.energy_budget_kwh
    return bool(np.isfinite(budget)) and book.energy_left < BINDING * budget


def energy_exchange(ctx: Context, policy: Policy, book: PlacementBook, fraction: float) -> bool:
    """Free ``fraction`` of the energy budget from the least efficient jobs and refill; True if kept."""
    idx = ctx.index
    before = policy.score(ctx, book)
    value = idx.merit * idx.work

    def spent(r: int) -> float:
        return idx.options[r][book.placed[r].option].energy_kwh

    removed: dict[int, Placement] = {}
    freed = 0.0
    for r in sorted(book.movable(), key=lambda q: (value[q] / max(spent(q), 1e-9), idx.req_ids[q])):
        if freed >= fraction * idx.energy_budget_kwh:
            break
        freed += spent(r)
        removed[r] = book.remove(r)
    least = {r: min(o.energy_kwh for o in idx.options[r]) for r in range(idx.n) if ctx.alone[r] and idx.options[r]}
    order = sorted(least, key=lambda r: (-value[r] / max(least[r], 1e-9), idx.req_ids[r]))
    energy = [np.array([o.energy_kwh for o in opts]) for opts in idx.options]
    before_placed = set(book.placed)
    policy.first_plan(ctx, Guide(order, energy), start=book)
    if policy.score(ctx, book) > before:
        return True
    for r in set(book.placed) - before_placed:
        book.remove(r)
    for r, p in removed.items():
        book.place(r, p)
    return False
