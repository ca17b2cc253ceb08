"""Why a request was rejected, and the smallest change under which it would fit.

Reasons come from the placement book's own rules, tried in a fixed order, so each one is
true of the plan it explains:

1. ``no_eligible_cluster``: no option (type present, country allowed) exists.
2. ``window_too_short``: every option's runtime exceeds the window.
3. It does not fit on its own: the first rule, added one at a time to an empty
   plan (GPU counts, power cap, energy, carbon, organisation cap), that leaves no
   start names the reason (``capacity``, ``power_cap``, ...).
4. It fits alone but not beside this plan: if lifting one budget (organisation
   cap, energy, carbon) in the plan's residual would let it in, that budget is the
   reason; otherwise GPUs or power are taken, and the reason says why: under a
   policy with a fairness floor ``category_balance`` when the request's category
   already has that much of its fair share (or has no share), else ``lower_merit`` when higher-merit requests
   hold them, else ``capacity`` (or ``power_cap`` when only power is short).

A counterfactual changes one field of the request and is checked against the
plan as it stands, with every other allocation kept where it is; ``fit_with``
is that check, and tests apply it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from solver.index import Index, IntArray, compile_problem
from solver.metrics import attainments, demand_by_category
from solver.placements import Placement, PlacementBook
from solver.plan import Counterfactual, Rejection
from solver.policies.base import Policy
from solver.problem import Problem, Request


def reject_all(index: Index, book: PlacementBook, alone: np.ndarray, policy: Policy) -> list[Rejection]:
    work = np.zeros(len(index.categories))
    for q in book.placed:
        work[index.category[q]] += index.work[q]
    att = attainments(index, work, demand_by_category(index, alone))
    occupancy = Occupancy.of(index, book)
    requests = {q.id: q for q in index.problem.requests}
    return [
        Rejection(request=index.req_ids[r], **_reason(
            index, book, occupancy, requests[index.req_ids[r]], r, bool(alone[r]), policy, att))
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
    attainment: Mapping[int, float],
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
    return _contention_reason(index, book, occupancy, r, policy, attainment.get(int(index.category[r])))


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


def _contention_reason(
    index: Index, book: PlacementBook, occupancy: Occupancy, r: int, policy: Policy, attainment: float | None
) -> dict[str, str]:
    org = index.orgs[index.org[r]]
    cat = index.categories[index.category[r]]
    if book.earliest(r) is not None:
        share = f"{attainment:.0%} of its fair share" if attainment is not None else "no share"
        return {"reason": "category_balance", "detail": f"it fits beside this plan, but admitting it would lower the "
                f"fairness of the plan: category {cat} already has {share}"}
    budgets = [
        ("org_cap", "org_left", f"needs at least {min(o.gpu_hours for o in index.options[r]):.0f} GPU-hours but "
         f"organisation {org} has {book.org_left[index.org[r]]:.0f} left of its cap of "
         f"{index.org_cap_gpu_hours:.0f}"),
        ("energy_budget", "energy_left", f"the energy budget has {book.energy_left:.0f} kWh left and the request "
         f"needs at least {min(o.energy_kwh for o in index.options[r]):.0f} kWh"),
        ("carbon_budget", "carbon_left", f"the carbon budget has {book.carbon_left / 1e6:.3f} t left"),
    ]
    for reason, attr, detail in budgets:
        if _fits_without(book, r, attr):
            return {"reason": reason, "detail": detail}
    blockers = occupancy.blockers(index, r)
    floor = policy.fairness_floor()
    if floor is not None and index.share.any():  # with no shares at all, a fair policy is merit order
        if index.share[index.category[r]] == 0:
            return {"reason": "category_balance", "detail": f"it fits on its own, but category {cat} has no share "
                    "and only gets capacity left over once the categories with a share are served"}
        if attainment is not None and attainment >= floor:
            return {"reason": "category_balance", "detail": f"it fits on its own, but category {cat} already has "
                    f"{attainment:.0%} of its fair share; the capacity it needs went to categories below theirs"}
    higher = int((index.merit[blockers] > index.merit[r]).sum())
    if higher:
        return {"reason": "lower_merit", "detail": f"it fits on its own, but {higher} requests with merit above "
                f"{index.merit[r]:.2f} hold the GPUs and power it needs in its window"}
    why = "power" if _fits_without(book, r, "power") else "GPUs"
    reason = "power_cap" if why == "power" else "capacity"
    return {"reason": reason, "detail": f"it fits on its own, but the {why} of every eligible cluster are taken "
            f"in its window (slots {index.earliest[r]}–{index.deadline[r]}) by other allocations"}


def _fits_without(book: PlacementBook, r: int, attr: str) -> bool:
    saved_power = book.power
    saved = getattr(book, attr) if attr != "power" else None
    if attr == "power":
        book.power = np.full_like(saved_power, np.inf)
    elif attr == "org_left":
        book.org_left = np.full_like(book.org_left, np.inf)
    else:
        setattr(book, attr, math.inf)
    try:
        return book.earliest(r) is not None
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


# --- counterfactuals -------------------------------------------------------


class Residual:
    """The plan's allocations except one request's, ready to try variants of that request."""

    def __init__(self, problem: Problem, placements: Mapping[str, tuple[str, str, int]], request_id: str) -> None:
        self.problem = problem
        self.request_id = request_id
        index = compile_problem(problem)
        self.book = PlacementBook(index)
        pos = {rid: i for i, rid in enumerate(index.req_ids)}
        for rid, (cluster, gpu_type, start) in placements.items():
            if rid != request_id:
                r = pos[rid]
                self.book.place(r, Placement(_option_of(index, r, cluster, gpu_type), start))
        self.orgs = index.orgs

    def fit(self, changed: Request) -> tuple[str, str, int] | None:
        """Where ``changed`` would start beside the other allocations, kept as they are."""
        one = compile_problem(self.problem.model_copy(update={"requests": [changed]}))
        probe = PlacementBook(one)
        probe.free, probe.power = self.book.free, self.book.power
        probe.energy_left, probe.carbon_left = self.book.energy_left, self.book.carbon_left
        probe.org_left[0] = self.book.org_left[self.orgs.index(changed.org)] if changed.org in self.orgs else (
            one.org_cap_gpu_hours)
        p = probe.earliest(0)
        if p is None:
            return None
        o = one.options[0][p.option]
        return one.cluster_ids[o.cluster], one.pool_type[o.pool], p.start


def counterfactual(problem: Problem, placements: Mapping[str, tuple[str, str, int]], request_id: str) -> (
        Counterfactual | None):
    """The first single change (GPU type, deadline, gang size, countries, start) under which it fits."""
    req = next(q for q in problem.requests if q.id == request_id)
    residual = Residual(problem, placements, request_id)
    for g, rt in _other_types(problem, req):
        if residual.fit(_with(req, runtime_slots={**req.runtime_slots, g: rt})):
            return Counterfactual(change="runtime_slots", value={**req.runtime_slots, g: rt},
                                  text=f"would fit if it also accepted {g} (about {rt} slots, from the speed "
                                  "ratio of other requests)")
    deadline = problem.deadline(req)
    d = _smallest(deadline + 1, problem.horizon.slots,
                  lambda v: residual.fit(_with(req, deadline_slot=v)) is not None)
    if d is not None:
        return Counterfactual(change="deadline_slot", value=d, text=f"would fit with a deadline of slot {d}")
    if req.gpus > 1:
        n = _largest(1, req.gpus - 1, lambda v: residual.fit(_with(req, gpus=v)) is not None)
        if n is not None:
            return Counterfactual(change="gpus", value=n, text=f"would fit if {n} GPUs were enough, with the same "
                                  f"runtime")
    if req.countries is not None:
        for c in sorted({cl.country for cl in problem.clusters} - set(req.countries)):
            countries = [*req.countries, c]
            if residual.fit(_with(req, countries=countries)):
                return Counterfactual(change="countries", value=countries,
                                      text=f"would fit if its data could also be processed in {c}")
    if req.earliest_slot > 0:
        s = _largest(0, req.earliest_slot - 1,
                     lambda v: residual.fit(_with(req, earliest_slot=v)) is not None)
        if s is not None:
            return Counterfactual(change="earliest_slot", value=s, text=f"would fit if it could start at slot {s}")
    return None


def apply(req: Request, cf: Counterfactual) -> Request:
    """The request with the counterfactual's change made, for re-checking."""
    return _with(req, **{cf.change: cf.value})


def _with(req: Request, **changes: object) -> Request:
    """A validated copy: a counterfactual must itself be a valid request."""
    return Request.model_validate({**req.model_dump(), **changes})


def _smallest(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """Smallest v in [lo, hi] with ok(v), for ok monotone (false ... true)."""
    if lo > hi or not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """Largest v in [lo, hi] with ok(v), for ok monotone (true ... false)."""
    if lo > hi or not ok(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _option_of(index: Index, r: int, cluster: str, gpu_type: str) -> int:
    c = index.cluster_ids.index(cluster)
    for k, o in enumerate(index.options[r]):
        if o.cluster == c and index.pool_type[o.pool] == gpu_type:
            return k
    raise ValueError(f"request {index.req_ids[r]} has no option {cluster}/{gpu_type}")


def _other_types(problem: Problem, req: Request) -> list[tuple[str, int]]:
    """Types it does not list, with a runtime from the median speed ratio in other requests."""
    base_type = min(req.runtime_slots, key=lambda g: req.runtime_slots[g])
    base = req.runtime_slots[base_type]
    out = []
    for g in sorted(problem.gpu_types):
        if g in req.runtime_slots:
            continue
        ratios = [q.runtime_slots[g] / q.runtime_slots[base_type] for q in problem.requests
                  if g in q.runtime_slots and base_type in q.runtime_slots]
        if ratios:
            out.append((g, max(1, math.ceil(base * statistics.median(ratios)))))
    return out
