"""Stable plans: nothing wasted, no justified complaint (the solver's side; ``verify_stability`` checks it).

The level of category c is ``ℓ_c = W_c / s_c`` (share 0: level ∞, entitled only to what no shared
category can use).  A rejected request of a shared category has a *justified complaint* when, on
some option and start, evicting unpinned jobs of better-served categories lets it in and every
evicted category d keeps ``(W_d − evicted_d) / s_d ≥ max((1 − ε)(W_c + work_r), (1 + ε) W_c) / s_c``.
The eviction is the greedy of ``docs/problem-format.md``: jobs on that cluster overlapping r's slots, highest
level first (then more GPUs, then id), each only if it relieves a GPU or power shortfall still
open; then, where a budget binds, further such jobs anywhere in the same order.

The search is cheap because levels bound what an eviction may take: category d may lose at most
``W_d − threshold · s_d`` of work, so a category with no job that small, a job larger than that, an
option whose energy or organisation hours exceed what that much work can hold, and a start the
evictable jobs could not clear are all passed over before the greedy runs.  Each bound only drops
what the greedy itself would refuse, so the answer is the definition's.

:func:`settle` ends every solve: it places every request that fits (so nothing is wasted) and,
under a policy with a fairness floor, resolves complaints one by one by doing a swap (of the first
few found, the one that evicts least value; any eviction that keeps the levels will do).  A swap
raises the complainer's level and leaves every evicted category more than ε above the complainer's
old level, and a fill only adds work, so the leximin order of levels improves by a clear step each
time and the loop ends; a round cap and the deadline bound it anyway.  (The second term is needed:
with ``(1 − ε)`` alone, as issue 10 first wrote it, two categories at equal levels may evict each
other in turn whenever a job is under 1 % of their work, so swaps cycle and no contended plan owes
nothing; at the M bench shape 1,100 swaps left 560 complaints.)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby, islice

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
CHOICES = 4  # swaps found per complaint, of which settle makes the one that evicts least value


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
    return [r for r in range(ctx.index.n) if r not in book.placed and ctx.alone[r] and book.fits(r)]


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


def stability_metrics(ctx: Context, book: PlacementBook, owed: int | None = None) -> dict[str, object]:
    """The plan's ``wasted``, ``justified_complaints``, ``level_spread`` and ``held_back`` figures; ``owed``, where
    settle has counted the complaints already (0 after a full pass that found none), saves counting them again."""
    owed = len(complaints(ctx, book)) if owed is None else owed
    waste = len(wasted(ctx, book))
    return {"wasted": waste, "justified_complaints": owed, "level_spread": spread(ctx, book),
            "held_back": held_back(ctx, book) if owed == waste == 0 else None}


def held_back(ctx: Context, book: PlacementBook, target: float = 0.95) -> str | None:
    """Where min attainment stays below ``target`` in a plan that wastes and owes nothing: which category holds it
    back, and why (none of its other requests fits beside the plan, and none has a justified complaint)."""
    idx = ctx.index
    work = ctx.work_by_category(book)
    att = attainments(idx, work, ctx.demand)
    if not att or min(att.values()) >= target:
        return None
    c = min(sorted(att), key=lambda q: att[q])
    fair = fair_shares(idx, work, ctx.demand)[c]
    name = idx.categories[c]
    return (f"{name}: {work[c]:,.0f} of {fair:,.0f} h placed; the rest cannot run beside the plan within its "
            f"windows and countries, and no eviction that leaves the other categories as well served as {name} "
            "would be lets it in")


class Holdings:
    """The unpinned jobs of a plan by cluster and by category, and per category the GPUs and power they hold per
    slot: what an eviction could free.  Kept in step with the book by :meth:`add` and :meth:`drop`, so a
    complaint search looks only at the jobs that could be evicted at the start it tries."""

    def __init__(self, ctx: Context, book: PlacementBook) -> None:
        idx = ctx.index
        self.index, self.book = idx, book
        self.gpus = np.zeros((len(idx.categories), len(idx.pool_cluster), idx.slots))
        self.power = np.zeros((len(idx.categories), len(idx.cluster_ids), idx.slots))
        self.on: list[set[int]] = [set() for _ in idx.cluster_ids]
        self.of: list[set[int]] = [set() for _ in idx.categories]
        self.min_work = np.full(len(idx.categories), np.inf)  # a lower bound on any job's work, per category
        np.minimum.at(self.min_work, idx.category, idx.work)
        # upper bounds per category on the kWh and GPU-hours a job holds per unit of work
        self.kwh_per_work, self.hours_per_work = np.zeros(len(idx.categories)), np.zeros(len(idx.categories))
        np.maximum.at(self.kwh_per_work, idx.category, idx.kwh_per_work)
        np.maximum.at(self.hours_per_work, idx.category, idx.gpu_hours_per_work)
        self.kwh = np.zeros(len(idx.categories))  # held by the unpinned jobs, per category
        self.org_hours = np.zeros((len(idx.categories), len(idx.orgs)))  # and per organisation
        self._jobs: dict[int, Jobs] = {}
        self._ranked: dict[int, list[int]] = {}
        for q in book.movable():
            self.add(q)

    def add(self, q: int) -> None:
        self._shift(q, +1)
        self.on[self._option(q).cluster].add(q)
        self.of[self.index.category[q]].add(q)

    def drop(self, q: int) -> None:
        self._shift(q, -1)
        self.on[self._option(q).cluster].discard(q)
        self.of[self.index.category[q]].discard(q)

    def _option(self, q: int) -> Option:
        return self.index.options[q][self.book.placed[q].option]

    def _shift(self, q: int, sign: int) -> None:
        o, s = self._option(q), self.book.placed[q].start
        c = int(self.index.category[q])
        self.gpus[c, o.pool, s : s + o.runtime] += sign * int(self.index.gpus[q])
        self.power[c, o.cluster, s : s + o.runtime] += sign * o.power_w
        self.kwh[c] += sign * o.energy_kwh
        self.org_hours[c, self.index.org[q]] += sign * o.gpu_hours
        self._jobs.pop(o.cluster, None)
        self._ranked.pop(c, None)

    def jobs(self, cluster: int) -> Jobs:
        """The unpinned jobs on ``cluster`` as arrays (built once per change of the cluster)."""
        j = self._jobs.get(cluster)
        if j is None:
            idx, qs = self.index, np.array(sorted(self.on[cluster]), dtype=np.int64)
            opts = [self._option(int(q)) for q in qs]
            start = np.array([self.book.placed[int(q)].start for q in qs], dtype=np.int64)
            j = self._jobs[cluster] = Jobs(
                req=qs, start=start, end=start + np.array([o.runtime for o in opts], dtype=np.int64),
                category=idx.category[qs], pool=np.array([o.pool for o in opts], dtype=np.int64),
                gpus=idx.gpus[qs], power_w=np.array([o.power_w for o in opts], dtype=np.float64), work=idx.work[qs])
        return j

    def ranked(self, c: int) -> list[int]:
        """Category c's unpinned jobs, more GPUs first, then id: the eviction order within a category."""
        out = self._ranked.get(c)
        if out is None:
            out = self._ranked[c] = sorted(self.of[c], key=lambda q: (-int(self.index.gpus[q]), q))
        return out

    def everywhere(self, lv: np.ndarray, can: np.ndarray) -> Iterator[int]:
        """Every unpinned job of the ``can`` categories, highest level first, then more GPUs, then id."""
        gpus = self.index.gpus
        cats = sorted(np.flatnonzero(can).tolist(), key=lambda c: -lv[c])
        for _, tied in groupby(cats, key=lambda c: lv[c]):
            lists = [self.ranked(c) for c in tied]
            yield from lists[0] if len(lists) == 1 else heapq.merge(*lists, key=lambda q: (-int(gpus[q]), q))


@dataclass(frozen=True)
class Jobs:
    req: np.ndarray
    start: np.ndarray
    end: np.ndarray
    category: np.ndarray
    pool: np.ndarray
    gpus: np.ndarray
    power_w: np.ndarray
    work: np.ndarray


@dataclass
class Claim:
    """One complaint search's terms: r, its threshold, and which jobs of which categories an eviction may take."""

    r: int
    threshold: float
    lv: np.ndarray
    slack: np.ndarray  # work each category may lose and stay above the threshold (∞ without a share)
    can: np.ndarray  # better-served categories with a job small enough to lose
    kwh: float  # at most this much energy, and GPU-hours of r's organisation, can an eviction free
    org_hours: float


def claim(ctx: Context, book: PlacementBook, r: int, work: np.ndarray, held: Holdings) -> Claim | None:
    """The terms of r's complaint, or None where no category could lose a job to it (levels bound the
    evictable work: a category at level ℓ_d may lose at most ``W_d − threshold · s_d``)."""
    idx = ctx.index
    c = int(idx.category[r])
    if idx.share[c] <= 0 or r in book.placed:
        return None
    lv = levels(idx, work)
    threshold = max((1 - EPSILON) * (work[c] + idx.work[r]), (1 + EPSILON) * work[c]) / idx.share[c]
    better = lv > threshold
    better[c] = False
    slack = np.where(idx.share > 0, work - threshold * (1 - LENIENT) * idx.share, np.inf)
    slack += 1e-9 * np.maximum(1.0, np.abs(work))  # a bound errs towards keeping a job: float noise never drops one
    can = better & (slack >= held.min_work)
    if not can.any():
        return None
    kwh = np.minimum(slack * held.kwh_per_work, held.kwh)[can].sum()
    org_hours = np.minimum(slack * held.hours_per_work, held.org_hours[:, idx.org[r]])[can].sum()
    return Claim(r, threshold, lv, slack, can, float(kwh), float(org_hours))


def complaint(ctx: Context, book: PlacementBook, r: int, work: np.ndarray, held: Holdings) -> Swap | None:
    """The first (option, start) where the greedy eviction lets r in, or None: no justified complaint."""
    return next(swaps(ctx, book, r, work, held), None)


def swaps(ctx: Context, book: PlacementBook, r: int, work: np.ndarray, held: Holdings,
          cheapest_first: bool = False) -> Iterator[Swap]:
    """Every (option, start) where an eviction lets r in, in option and start order.  The eviction is the
    definition's greedy (highest level first); with ``cheapest_first``, the lowest-value jobs first where that
    greedy also succeeds and evicts less value (either resolves the complaint)."""
    idx = ctx.index
    terms = claim(ctx, book, r, work, held)
    if terms is None:
        return
    lv, can, slack = terms.lv, terms.can, terms.slack
    e0, d0 = int(idx.earliest[r]), int(idx.deadline[r])
    everywhere: list[list[int]] = []

    def movable() -> list[int]:  # jobs anywhere, for a budget that binds; built once, if asked
        if not everywhere:
            everywhere.append(list(held.everywhere(lv, can)))
        return everywhere[0]

    for k, o in enumerate(idx.options[r]):
        if (o.runtime > d0 - e0 or o.energy_kwh > book.energy_left + terms.kwh + EPS
                or o.gpu_hours > book.org_left[idx.org[r]] + terms.org_hours + EPS):
            continue
        free, power = book.free[o.pool, e0:d0], book.power[o.cluster, e0:d0]
        if not (free + held.gpus[can, o.pool, e0:d0].sum(axis=0) >= idx.gpus[r]).any():
            continue
        j = held.jobs(o.cluster)
        hit = np.flatnonzero(can[j.category] & (j.work <= slack[j.category]) & (j.start < d0) & (j.end > e0))
        gained = np.zeros(d0 - e0 + 1)
        watts = np.zeros(d0 - e0 + 1)
        lo, hi = np.maximum(j.start[hit], e0) - e0, np.minimum(j.end[hit], d0) - e0
        same = j.pool[hit] == o.pool
        np.add.at(gained, lo[same], j.gpus[hit][same])
        np.add.at(gained, hi[same], -j.gpus[hit][same])
        np.add.at(watts, lo, j.power_w[hit])
        np.add.at(watts, hi, -j.power_w[hit])
        starts = _starts(idx, r, o.runtime, o.power_w, free + np.cumsum(gained)[:-1], power + np.cumsum(watts)[:-1])
        if not starts:
            continue
        hit = hit[np.lexsort((j.req[hit], -j.gpus[hit], -lv[j.category[hit]]))]
        value = idx.merit[j.req[hit]] * j.work[hit]
        cheap = hit[np.argsort(value, kind="stable")]
        for s in starts:
            here = hit[(j.start[hit] < s + o.runtime) & (j.end[hit] > s)]
            evicted = _evict(ctx, book, movable, j.req[here].tolist(), r, k, s, work, terms.threshold)
            if evicted is None:
                continue
            if cheapest_first:
                near = cheap[(j.start[cheap] < s + o.runtime) & (j.end[cheap] > s)]
                other = _evict(ctx, book, movable, j.req[near].tolist(), r, k, s, work, terms.threshold)
                if other is not None and _value(idx, other) < _value(idx, evicted):
                    evicted = other
            yield Swap(Placement(k, s), evicted)


def _value(idx: Index, qs: Iterable[int]) -> float:
    return float(sum(idx.merit[q] * idx.work[q] for q in qs))


def _starts(idx: Index, r: int, runtime: int, power_w: float, free: np.ndarray, power: np.ndarray) -> list[int]:
    """Starts of r whose slots have the GPUs and power in ``free`` and ``power`` (both over r's window)."""
    e, d = int(idx.earliest[r]), int(idx.deadline[r])
    n = d - e - runtime + 1
    if n <= 0:
        return []
    ok = (free >= idx.gpus[r]) & (power >= power_w - EPS)
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
    taken = set(evicted)
    for q in movable():
        if budgets():
            return tuple(evicted)
        if q in taken or not keeps(q):
            continue
        evict(q)
    return tuple(evicted) if budgets() else None


@dataclass(frozen=True)
class Settled:
    swaps: int
    owed: int | None  # justified complaints left: 0 after a full pass that found none, None when not counted


def settle(ctx: Context, policy: Policy, book: PlacementBook, guide: Guide, deadline: float,
           clock: Callable[[], float]) -> Settled:
    """Fill, and under a fairness floor resolve complaints by swaps and fill again, until a full pass over the
    rejected requests finds no complaint (then the plan owes none) or the deadline passes."""
    policy.first_plan(ctx, guide, start=book)
    if policy.fairness_floor() is None:
        return Settled(0, None)
    swaps = 0
    for _ in range(MAX_ROUNDS):
        made, finished = _resolve_round(ctx, book, guide.order, deadline, clock)
        swaps += made
        if made:
            policy.first_plan(ctx, guide, start=book)
        if made == 0:
            return Settled(swaps, 0 if finished else None)
        if clock() > deadline:
            break
    return Settled(swaps, None)


def _resolve_round(ctx: Context, book: PlacementBook, order: Iterable[int], deadline: float,
                   clock: Callable[[], float]) -> tuple[int, bool]:
    """One pass over the rejected requests, lowest-level category first, doing for each complaint the swap that
    evicts the least value among the first few found; returns the swaps made and whether the pass finished."""
    idx = ctx.index
    work = ctx.work_by_category(book)
    lv = levels(idx, work)
    rank = {r: i for i, r in enumerate(order)}
    waiting = sorted((r for r in range(idx.n) if r not in book.placed and ctx.alone[r]
                      and idx.share[idx.category[r]] > 0),
                     key=lambda r: (lv[idx.category[r]], rank.get(r, idx.n), r))
    held = Holdings(ctx, book)
    made = 0
    for r in waiting:
        if clock() > deadline:
            return made, False
        found = list(islice(swaps(ctx, book, r, work, held, cheapest_first=True), CHOICES))
        if not found:
            continue
        swap = min(found, key=lambda w: _value(idx, w.evicted))
        for q in swap.evicted:
            held.drop(q)
            book.remove(q)
            work[idx.category[q]] -= idx.work[q]
        book.place(r, swap.placement)
        held.add(r)
        work[idx.category[r]] += idx.work[r]
        made += 1
    return made, True
