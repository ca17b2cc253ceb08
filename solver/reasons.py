"""Why a request was rejected: one reason code and a sentence with the numbers.

Reasons come from the placement book's own rules, tried in a fixed order, so each
one is true of the plan it explains:

1. ``no_eligible_cluster``: no option (type present, country allowed) exists.
2. ``window_too_short``: every option's runtime exceeds the window.
3. It does not fit on its own: the first rule, added one at a time to an empty
   plan (GPU counts, power cap, energy, carbon, organisation cap), that leaves no
   start names the reason (``capacity``, ``power_cap``, ...).
4. It fits alone but not beside this plan (every solve ends with a fill, so a
   rejected request never fits beside its plan): if lifting one budget
   (organisation cap, energy, carbon) in the plan's residual would let it in, that
   budget is the reason; otherwise GPUs or power are taken, and the reason says
   why: under a policy with a fairness floor, ``category_balance`` when the
   request's category has no share, or when categories better served than its own
   (higher level, work over share) hold GPUs it could use in its window; the
   sentence names them with their levels and the level the request's category would
   reach with it, and never names a category without a share (the plan has evicted
   those wherever that let a request in).  Else ``lower_merit`` when higher-merit
   requests hold them, else ``capacity`` (or ``power_cap`` when only power is short).

What single change would let a rejected request in is :mod:`solver.counterfactuals`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from solver.index import EPS, Index, IntArray
from solver.placements import PlacementBook
from solver.plan import Rejection
from solver.policies.base import Policy
from solver.problem import Request


def reject_all(index: Index, book: PlacementBook, alone: np.ndarray, policy: Policy) -> list[Rejection]:
    occupancy = Occupancy.of(index, book)
    requests = {q.id: q for q in index.problem.requests}
    return [
        Rejection(request=index.req_ids[r], **_reason(
            index, book, occupancy, requests[index.req_ids[r]], r, bool(alone[r]), policy))
        for r in range(index.n)
        if r not in book.placed
    ]


def _reason(
    index: Index,
    book: PlacementBook,
    occupancy: Occupancy,
    req: Request,
    r: int,
    alone: bool,
    policy: Policy,
) -> dict[str, str]:
    opts = index.options[r]
    window = int(index.deadline[r] - index.earliest[r])
    if not opts:
        where = f"in {', '.join(req.countries)}" if req.countries else "anywhere"
        return {
            "reason": "no_eligible_cluster",
            "detail": f"no cluster {where} has any of {', '.join(sorted(req.runtime_slots))}",
        }
    shortest = min(opts, key=lambda o: o.runtime)
    if shortest.runtime > window:
        return {
            "reason": "window_too_short",
            "detail": f"needs {shortest.runtime} slots on {index.pool_type[shortest.pool]} but only {window} "
            f"remain between slot {index.earliest[r]} and its deadline, slot {index.deadline[r]}",
        }
    if not alone:
        return _alone_reason(index, r)
    return _contention_reason(index, book, occupancy, r, policy)


def _alone_reason(index: Index, r: int) -> dict[str, str]:
    """The first rule that, added to an empty plan, leaves the request no start."""
    probe = PlacementBook(index)
    probe.power[:] = np.inf
    probe.energy_left = probe.carbon_left = math.inf
    probe.org_left[:] = math.inf
    g = int(index.gpus[r])
    if probe.earliest(r) is None:
        most = max(int(index.pool_cap[o.pool, index.earliest[r] : index.deadline[r]].max()) for o in index.options[r])
        return {"reason": "capacity", "detail": f"needs {g} GPUs together; the largest eligible pool has {most} "
                f"free in its window, after maintenance"}
    probe.power[:] = np.repeat(index.power_cap_w[:, None], index.slots, axis=1)
    if probe.earliest(r) is None:
        draw = max(o.power_w for o in index.options[r]) / 1000
        return {"reason": "power_cap", "detail": f"draws {draw:.1f} kW, above the power cap of every eligible cluster"}
    probe.energy_left = index.energy_budget_kwh
    if probe.earliest(r) is None:
        need = min(o.energy_kwh for o in index.options[r])
        return {"reason": "energy_budget", "detail": f"needs {need:.0f} kWh, more than the whole programme "
                f"budget of {index.energy_budget_kwh:.0f} kWh"}
    probe.carbon_left = index.carbon_budget_g
    if probe.earliest(r) is None:
        return {"reason": "carbon_budget", "detail": f"emits more than the whole carbon budget of "
                f"{index.carbon_budget_g / 1e6:.2f} t at every eligible start"}
    need = min(o.gpu_hours for o in index.options[r])
    return {"reason": "org_cap", "detail": f"needs {need:.0f} GPU-hours, more than the organisation cap of "
            f"{index.org_cap_gpu_hours:.0f}"}


def _contention_reason(index: Index, book: PlacementBook, occupancy: Occupancy, r: int, policy: Policy
                       ) -> dict[str, str]:
    org = index.orgs[index.org[r]]
    cat = index.categories[index.category[r]]
    budgets = [
        ("org_cap", "org_left", f"needs at least {min(o.gpu_hours for o in index.options[r]):.0f} GPU-hours but "
         f"organisation {org} has {book.org_left[index.org[r]]:.0f} left of its cap of "
         f"{index.org_cap_gpu_hours:.0f}"),
        ("energy_budget", "energy_left", f"the energy budget has {book.energy_left:.0f} kWh left and the request "
         f"needs at least {min(o.energy_kwh for o in index.options[r]):.0f} kWh"),
        ("carbon_budget", "carbon_left", f"the carbon budget has {book.carbon_left / 1e6:.3f} t left"),
    ]
    beside = cache(lambda: book.fits(r))
    for reason, attr, detail in budgets:
        if _fits_without(book, r, attr, beside):
            return {"reason": reason, "detail": detail}
    blockers = occupancy.blockers(index, r)
    floor = policy.fairness_floor()
    if floor is not None and index.share.any():  # with no shares at all, a fair policy is merit order
        if index.share[index.category[r]] == 0:
            return {"reason": "category_balance", "detail": f"it fits on its own, but category {cat} has no share "
                    "and only gets capacity left over once the categories with a share are served"}
        held = _held_by_better(index, book, occupancy, r)
        if held:
            return {"reason": "category_balance", "detail": held}
    higher = int((index.merit[blockers] > index.merit[r]).sum())
    if higher:
        return {"reason": "lower_merit", "detail": f"it fits on its own, but {higher} requests with merit above "
                f"{index.merit[r]:.2f} hold the GPUs and power it needs in its window"}
    why = "power" if _fits_without(book, r, "power", beside) else "GPUs"
    reason = "power_cap" if why == "power" else "capacity"
    return {"reason": reason, "detail": f"it fits on its own, but the {why} of every eligible cluster are taken "
            f"in its window (slots {index.earliest[r]}–{index.deadline[r]}) by other allocations"}


def _held_by_better(index: Index, book: PlacementBook, occupancy: Occupancy, r: int) -> str:
    """Who of the better-served categories holds r's pool in r's window (the pool where they hold most), or ''."""
    work = np.bincount(index.category[occupancy.req], weights=index.work[occupancy.req],
                       minlength=len(index.categories))
    shared = index.share > 0
    level = np.full(len(index.categories), np.inf)
    level[shared] = work[shared] / index.share[shared]
    c = int(index.category[r])
    e, d = int(index.earliest[r]), int(index.deadline[r])
    best: tuple[float, int, dict[int, float]] | None = None
    for pool in sorted({o.pool for o in index.options[r]}):
        hit = (occupancy.pool == pool) & (occupancy.start < d) & (occupancy.end > e)
        held: dict[int, float] = {}
        for q, s0, s1 in zip(occupancy.req[hit], occupancy.start[hit], occupancy.end[hit], strict=True):
            h = int(index.category[q])
            if shared[h] and h != c and level[h] > level[c]:
                held[h] = held.get(h, 0.0) + float(index.gpus[q] * (min(s1, d) - max(s0, e)))
        if held and (best is None or sum(held.values()) > best[0]):
            best = (sum(held.values()), pool, held)
    if best is None:
        return ""
    _, pool, held = best
    names = sorted(held, key=lambda h: -level[h])
    listed = [f"{index.categories[h]} (level {level[h]:,.0f})" for h in names]
    who = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + f" and {listed[-1]}"
    reach = (work[c] + index.work[r]) / index.share[c]
    return (f"{index.pool_type[pool]} on {index.cluster_ids[index.pool_cluster[pool]]} in slots {e}–{d} are held by "
            f"{who}; {index.categories[c]} would reach level {reach:,.0f} with this request, and no eviction of "
            "better-served jobs that keeps them at least as well served lets it in")


def _fits_without(book: PlacementBook, r: int, attr: str, beside: Callable[[], bool]) -> bool:
    """Would r fit beside the plan with the budget (or the power caps) ``attr`` lifted?  Where lifting it frees no
    option of r, the answer is whether r fits as the plan stands (``beside``), without trying again."""
    idx, opts = book.index, book.index.options[r]
    matters = {
        "org_left": any(o.gpu_hours > book.org_left[idx.org[r]] + EPS for o in opts),
        "energy_left": any(o.energy_kwh > book.energy_left + EPS for o in opts),
        "carbon_left": bool(np.isfinite(book.carbon_left)),
        "power": any(np.isfinite(idx.power_cap_w[o.cluster]) for o in opts),
    }[attr]
    if not matters:
        return beside()
    saved_power = book.power
    saved = getattr(book, attr) if attr != "power" else None
    if attr == "power":
        book.power = np.full_like(saved_power, np.inf)
    elif attr == "org_left":
        book.org_left = np.full_like(book.org_left, np.inf)
    else:
        setattr(book, attr, math.inf)
    try:
        return book.fits(r)
    finally:
        if attr == "power":
            book.power = saved_power
        else:
            setattr(book, attr, saved)


@dataclass(frozen=True)
class Occupancy:
    """The placed jobs as arrays, so "who holds r's pools in r's window" is one vector query."""

    req: IntArray
    pool: IntArray
    start: IntArray
    end: IntArray

    @classmethod
    def of(cls, index: Index, book: PlacementBook) -> Occupancy:
        items = sorted(book.placed.items())
        opts = [index.options[q][p.option] for q, p in items]
        return cls(
            req=np.array([q for q, _ in items], dtype=np.int64),
            pool=np.array([o.pool for o in opts], dtype=np.int64),
            start=np.array([p.start for _, p in items], dtype=np.int64),
            end=np.array([p.start + o.runtime for (_, p), o in zip(items, opts, strict=True)], dtype=np.int64),
        )

    def blockers(self, index: Index, r: int) -> IntArray:
        """Placed requests sharing a pool with one of r's options inside r's window."""
        pools = np.array(sorted({o.pool for o in index.options[r]}), dtype=np.int64)
        hit = np.isin(self.pool, pools) & (self.start < index.deadline[r]) & (self.end > index.earliest[r])
        out: IntArray = self.req[hit]
        return out
