"""The smallest change to a rejected request under which it would fit beside the plan.

A counterfactual changes one field of the request (GPU type, deadline, gang size,
countries, start) and is checked against the plan as it stands, with every other
allocation kept where it is; :meth:`Residual.fit` is that check, and tests apply it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping

from solver.index import Index, compile_problem
from solver.placements import Placement, PlacementBook
from solver.plan import Counterfactual
from solver.problem import Problem, Request


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
