"""Stable plans: nothing wasted, no justified complaint (the solver's side; ``verify_stability`` checks it).

The level of category c is ``ℓ_c = W_c / s_c`` (share 0: level ∞, entitled only to what no shared
category can use).  A rejected request of a shared category has a *justified complaint* when, on
some option and start, evicting unpinned jobs of better-served categories lets it in and every
evicted category d keeps ``(W_d − evicted_d) / s_d ≥ max((1 − ε)(W_c + work_r), (1 + ε) W_c) / s_c``.
The eviction is the greedy of ``docs/problem-format.md``: jobs on that cluster overlapping r's slots, highest
level first (then more GPUs, then id), each only if it relieves a GPU or power shortfall still
open; then, where a budget binds, further such jobs anywhere in the same order.

:func:`settle` ends every solve: it places every request that fits (so nothing is wasted) and,
under a policy with a fairness floor, resolves complaints one by one by doing the swap.  A swap
raises the complainer's level and leaves every evicted category more than ε above the complainer's
old level, and a fill only adds work, so the leximin order of levels improves by a clear step each
time and the loop ends; a round cap and the deadline bound it anyway.  (The second term is needed:
with ``(1 − ε)`` alone, as issue 10 first wrote it, two categories at equal levels may evict each
other in turn whenever a job is under 1 % of their work, so swaps cycle and no contended plan owes
nothing; at the M bench shape 1,100 swaps left 560 complaints.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from solver.guide import Guide
from solver.index import EPS, Index, Option
from solver.metrics import attainments, fair_shares
from solver.placements import Placement, PlacementBook
from solver.plan import LevelSpread
from solver.policies import Context, Policy

EPSILON = 0.01
LENIENT = 1e-9  # an eviction may keep its level by this much less: the solver errs towards resolving
MAX_ROUNDS = 50


@dataclass(frozen=True)
class Swap:
    placement: Placement
    evicted: tuple[int, ...]


def levels(index: Index, work: np.ndarray) -> np.ndarray:
    out = np.full(len(index.categories), np.inf)
    shared = index.share > 0
    out[shared] = work[shared] / index.share[shared]
    return out


def wasted(ctx: Context, book: PlacementBook) -> list[int]:
    return [r for r in range(ctx.index.n) if r not in book.placed and ctx.alone[r] and book.earliest(r) is not None]


def complaints(ctx: Context, book: PlacementBook) -> list[int]:
    work = ctx.work_by_category(book)
    held = Holdings(ctx, book)
    return [r for r in range(ctx.index.n) if r not in book.placed and ctx.alone[r]
            and complaint(ctx, book, r, work, held) is not None]


def spread(ctx: Context, book: PlacementBook) -> LevelSpread | None:
    """Largest level over smallest among shared categories that still have rejected requests fitting alone."""
    idx = ctx.index
    lv = levels(idx, ctx.work_by_category(book))
    waiting = sorted({int(idx.category[r]) for r in range(idx.n)
                      if r not in book.placed and ctx.alone[r] and idx.share[idx.category[r]] > 0})
    if not waiting:
        return None
    names = {idx.categories[c]: float(lv[c]) for c in waiting}
    hi = max(sorted(names), key=lambda c: names[c])
    lo = min(sorted(names), key=lambda c: names[c])
    return LevelSpread(ratio=names[hi] / names[lo] if names[lo] > 0 else None, highest=hi, lowest=lo,
                       levels=dict(sorted(names.items())))


def stability_metrics(ctx: Context, book: PlacementBook) -> dict[str, object]:
    """The plan's ``wasted``, ``justified_complaints``, ``level_spread`` and ``held_back`` figures."""
    owed = len(complaints(ctx, book))
    return {"wasted": len(wasted(ctx, book)), "justified_complaints": owed, "level_spread": spread(ctx, book),
            "held_back": held_back(ctx, book) if owed == 0 else None}


def held_back(ctx: Context, book: PlacementBook, target: float = 0.95) -> str | None:
    """Where min attainment stays below ``target`` in a plan that owes no complaint: which category holds it
    back, and why (its other requests could only run by taking from categories served no better)."""
    idx = ctx.index
    work = ctx.work_by_category(book)
    att = attainments(idx, work, ctx.demand)
    if not att or min(att.values()) >= target:
        return None
    c = min(sorted(att), key=lambda q: att[q])
    fair = fair_shares(idx, work, ctx.demand)[c]
    return (f"{idx.categories[c]}: {work[c]:,.0f} of {fair:,.0f} h of its fair share placed; the rest cannot run "
            "beside the plan within its windows and countries without taking capacity from categories served "
            "no better")


class Holdings:
    """The unpinned jobs of a plan by cluster, and per category the GPUs and power they hold per slot: what an
    eviction could free.  Kept in step with the book by :meth:`add` and :meth:`drop`, so a complaint search
    looks only at the jobs overlapping the start it tries."""

    def __init__(self, ctx: Context, book: PlacementBook) -> None:
        idx = ctx.index
        self.index, self.book = idx, book
        self.gpus = np.zeros((len(idx.categories), len(idx.pool_cluster), idx.slots))
        self.power = np.zeros((len(idx.categories), len(idx.cluster_ids), idx.slots))
        self.on: list[set[int]] = [set() for _ in idx.cluster_ids]
        self._arrays: dict[int, np.ndarray] = {}
        for q in book.movable():
            self.add(q)

    def movable(self) -> list[int]:
        return [q for qs in self.on for q in qs]

    def add(self, q: int) -> None:
        self._shift(q, +1)
        self.on[self._option(q).cluster].add(q)

    def drop(self, q: int) -> None:
        self._shift(q, -1)
        self.on[self._option(q).cluster].discard(q)

    def _option(self, q: int) -> Option:
        return self.index.options[q][self.book.placed[q].option]

    def _shift(self, q: int, sign: int) -> None:
        o, s = self._option(q), self.book.placed[q].start
        c = self.index.category[q]
        self.gpus[c, o.pool, s : s + o.runtime] += sign * int(self.index.gpus[q])
        self.power[c, o.cluster, s : s + o.runtime] += sign * o.power_w
        self._arrays.pop(o.cluster, None)

    def overlapping(self, cluster: int, s: int, e: int, better: np.ndarray) -> np.ndarray:
        """Jobs on ``cluster`` of the ``better`` categories (a mask) that overlap slots [s, e)."""
        a = self._arrays.get(cluster)
        if a is None:
            qs = sorted(self.on[cluster])
            a = self._arrays[cluster] = np.array(
                [[q, self.book.placed[q].start, self.book.placed[q].start + self._option(q).runtime,
                  self.index.category[q]] for q in qs], dtype=np.int64).reshape(len(qs), 4)
        hit = (a[:, 1] < e) & (a[:, 2] > s) & better[a[:, 3]]
        found: np.ndarray = a[hit, 0]
        return found


def complaint(ctx: Context, book: PlacementBook, r: int, work: np.ndarray,
              held: Holdings | None = None) -> Swap | None:
    """The first (option, start) where the greedy eviction lets r in, or None: no justified complaint."""
    idx = ctx.index
    c = int(idx.category[r])
    if idx.share[c] <= 0 or r in book.placed:
        return None
    lv = levels(idx, work)
    threshold = max((1 - EPSILON) * (work[c] + idx.work[r]), (1 + EPSILON) * work[c]) / idx.share[c]
    better = lv > threshold
    better[c] = False
    if not better.any():
        return None
    held = held or Holdings(ctx, book)

    def order(qs: Iterable[int]) -> list[int]:
        return sorted(qs, key=lambda q: (-lv[idx.category[q]], -int(idx.gpus[q]), idx.req_ids[q]))

    everywhere: list[list[int]] = []

    def movable() -> list[int]:  # every job of a better category, for a budget that binds; built once, if asked
        if not everywhere:
            everywhere.append(order(q for q in held.movable() if better[idx.category[q]]))
        return everywhere[0]

    e0, d0 = int(idx.earliest[r]), int(idx.deadline[r])
    for k, o in enumerate(idx.options[r]):
        # everything the better categories hold here, evicted at once: a necessary condition for any start
        free = book.free[o.pool] + held.gpus[better, o.pool].sum(axis=0)
        power = book.power[o.cluster] + held.power[better, o.cluster].sum(axis=0)
        if o.runtime > d0 - e0 or not (free[e0:d0] >= idx.gpus[r]).any():
            continue
        for s in _starts(idx, r, o.runtime, o.power_w, free, power):
            here = order(held.overlapping(o.cluster, s, s + o.runtime, better).tolist())
            evicted = _evict(ctx, book, movable, here, r, k, s, work, threshold)
            if evicted is not None:
                return Swap(Placement(k, s), evicted)
    return None


def _starts(idx: Index, r: int, runtime: int, power_w: float, free: np.ndarray, power: np.ndarray) -> list[int]:
    e, d = int(idx.earliest[r]), int(idx.deadline[r])
    n = d - e - runtime + 1
    if n <= 0:
        return []
    ok = (free[e:d] >= idx.gpus[r]) & (power[e:d] >= power_w - EPS)
    bad = np.concatenate(([0], np.cumsum(~ok)))
    return [e + i for i in np.flatnonzero(bad[runtime:] - bad[:n] == 0).tolist()]


def _evict(ctx: Context, book: PlacementBook, movable: Callable[[], list[int]], here: list[int], r: int, k: int, s: int,
           work: np.ndarray, threshold: float) -> tuple[int, ...] | None:
    idx = ctx.index
    o = idx.options[r][k]
    e = s + o.runtime
    free, power = book.free[o.pool, s:e].copy(), book.power[o.cluster, s:e].copy()
    left = work.copy()
    evicted: list[int] = []
    freed = [0.0, 0.0, 0.0]  # kWh, g CO2e, GPU-hours of r's organisation

    def fits() -> bool:
        return bool((free >= idx.gpus[r]).all() and (power >= o.power_w - EPS).all())

    def keeps(q: int) -> bool:
        d = int(idx.category[q])
        return bool(idx.share[d] <= 0 or (left[d] - idx.work[q]) / idx.share[d] >= threshold * (1 - LENIENT))

    def evict(q: int) -> None:
        oq = idx.options[q][book.placed[q].option]
        left[idx.category[q]] -= idx.work[q]
        evicted.append(q)
        freed[0] += oq.energy_kwh
        freed[1] += idx.co2_g(oq, book.placed[q].start) if np.isfinite(book.carbon_left) else 0.0
        freed[2] += oq.gpu_hours if idx.org[q] == idx.org[r] else 0.0

    def budgets() -> bool:
        return bool(o.energy_kwh <= book.energy_left + freed[0] + EPS
                    and (not np.isfinite(book.carbon_left) or idx.co2_g(o, s) <= book.carbon_left + freed[1] + EPS)
                    and o.gpu_hours <= book.org_left[idx.org[r]] + freed[2] + EPS)

    for q in here:
        if fits():
            break
        oq, sq = idx.options[q][book.placed[q].option], book.placed[q].start
        lo, hi = max(s, sq) - s, min(e, sq + oq.runtime) - s
        if hi <= lo:
            continue
        short_gpus = oq.pool == o.pool and bool((free[lo:hi] < idx.gpus[r]).any())
        short_power = bool((power[lo:hi] < o.power_w - EPS).any())
        if not (short_gpus or short_power) or not keeps(q):
            continue
        evict(q)
        if oq.pool == o.pool:
            free[lo:hi] += idx.gpus[q]
        power[lo:hi] += oq.power_w
    if not fits():
        return None
    if budgets():
        return tuple(evicted)
    for q in movable():
        if budgets():
            return tuple(evicted)
        if q in evicted or not keeps(q):
            continue
        evict(q)
    return tuple(evicted) if budgets() else None


def settle(ctx: Context, policy: Policy, book: PlacementBook, guide: Guide, deadline: float,
           clock: Callable[[], float]) -> int:
    """Fill, and under a fairness floor resolve complaints by swaps and fill again; returns the swaps made."""
    policy.first_plan(ctx, guide, start=book)
    if policy.fairness_floor() is None:
        return 0
    swaps = 0
    for _ in range(MAX_ROUNDS):
        made = _resolve_round(ctx, book, guide.order, deadline, clock)
        swaps += made
        policy.first_plan(ctx, guide, start=book)
        if made == 0 or clock() > deadline:
            break
    return swaps


def _resolve_round(ctx: Context, book: PlacementBook, order: Iterable[int], deadline: float,
                   clock: Callable[[], float]) -> int:
    """One pass over the rejected requests, lowest-level category first, doing each swap found."""
    idx = ctx.index
    work = ctx.work_by_category(book)
    lv = levels(idx, work)
    rank = {r: i for i, r in enumerate(order)}
    waiting = sorted((r for r in range(idx.n) if r not in book.placed and ctx.alone[r]
                      and idx.share[idx.category[r]] > 0),
                     key=lambda r: (lv[idx.category[r]], rank.get(r, idx.n), idx.req_ids[r]))
    held = Holdings(ctx, book)
    made = 0
    for r in waiting:
        if clock() > deadline:
            break
        swap = complaint(ctx, book, r, work, held)
        if swap is None:
            continue
        for q in swap.evicted:
            held.drop(q)
            book.remove(q)
            work[idx.category[q]] -= idx.work[q]
        book.place(r, swap.placement)
        held.add(r)
        work[idx.category[r]] += idx.work[r]
        made += 1
    return made
