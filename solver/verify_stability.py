"""Independent checker, second half: is a plan stable (non-wasteful, free of justified complaints)?

Like :mod:`solver.verify`, this reads only the problem and plan models and shares no code
with the solver, so the figures a plan reports about itself can be recomputed by anyone.
These are not hard rules: a plan with wasted requests is valid, only not what the policies
promise.  Definitions (``docs/problem-format.md``):

- level of category c: ``ℓ_c = W_c / s_c`` (W_c: work assigned to c; share 0 → level ∞);
- wasted: a rejected request with an option (cluster, type, start) that obeys rules 2–9
  beside the plan as it stands;
- justified complaint: a rejected request r of a category c with a share, and an option
  that becomes feasible once jobs of better-served categories are evicted, every evicted
  category d keeping ``(W_d − evicted_d) / s_d ≥ max((1 − ε)(W_c + work_r), (1 + ε) W_c) / s_c``.  The
  eviction is greedy and deterministic: candidates are unpinned jobs of other categories
  overlapping r's slots on that cluster, highest level first (then more GPUs, then id), each
  taken only if it relieves a GPU or power shortfall still open; where the energy or
  carbon budget or the organisation's cap then binds, further jobs of such categories
  anywhere, in the same order, until the request fits;
- level spread: the largest level over the smallest among the categories with a share
  that still have rejected requests which fit alone (rules 2–9 in an empty plan).

The checks compare with a margin against the plan (``STRICT``), so float noise never makes
a plan look wasteful or owing that the solver's own, more lenient bookkeeping found stable.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solver.plan import LevelSpread, Plan
from solver.problem import Cluster, Problem, Request, available

EPSILON = 0.01
STRICT = 1e-9  # relative margin: a fit must hold by this much, an eviction must keep its level by this much
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Stability:
    """Ids of wasted requests and of requests with a justified complaint, and the level spread."""

    wasted: list[str]
    complaints: list[str]
    level_spread: LevelSpread | None


@dataclass
class _Job:
    request: Request
    cluster: Cluster
    gpu_type: str
    start: int
    end: int
    pinned: bool
    kw: float  # GPU draw, for the power cap
    kwh: float  # at the meter
    grams: float
    hours: float  # GPU-hours as run, for the organisation cap


@dataclass
class _State:
    """What the plan uses: free GPUs per (cluster, type) and slot, draw per cluster and slot, budgets."""

    free: dict[tuple[str, str], npt.NDArray[np.int64]]
    draw: dict[str, FloatArray]
    kwh: float = 0.0
    grams: float = 0.0
    org_hours: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def stability(problem: Problem, plan: Plan) -> Stability:
    requests = {r.id: r for r in problem.requests}
    clusters = {c.id: c for c in problem.clusters}
    pins = {p.request for p in problem.pins}
    jobs: list[_Job] = []
    for a in plan.assignments:
        r, c = requests.get(a.request), clusters.get(a.cluster)
        if r is None or c is None or c.gpus.get(a.gpu_type, 0) <= 0 or a.gpu_type not in problem.gpu_types:
            continue
        jobs.append(_job(problem, r, c, a.gpu_type, a.start_slot, a.end_slot, a.request in pins))
    state = _state(problem, jobs)
    empty = _state(problem, [])
    rejected = [r for r in problem.requests if r.id not in {a.request for a in plan.assignments}]
    shares = problem.policy.category_shares
    work: dict[str, float] = defaultdict(float)
    for j in jobs:
        work[j.request.category] += _work(problem, j.request)
    level = {c: _level(work[c], shares.get(c, 0.0)) for c in {r.category for r in problem.requests} | set(shares)}
    wasted, complaints, unserved = [], [], set()
    for r in sorted(rejected, key=lambda q: q.id):
        if _fits(problem, empty, r) and shares.get(r.category, 0.0) > 0:
            unserved.add(r.category)
        if _fits(problem, state, r):
            wasted.append(r.id)
        elif shares.get(r.category, 0.0) > 0 and _complains(problem, state, jobs, r, work, level):
            complaints.append(r.id)
    return Stability(wasted, complaints, _spread({c: level[c] for c in unserved}))


def _work(problem: Problem, r: Request) -> float:
    return r.gpus * min(r.runtime_slots.values()) * problem.horizon.slot_hours


def _level(work: float, share: float) -> float:
    return work / share if share > 0 else math.inf


def _spread(levels: dict[str, float]) -> LevelSpread | None:
    if not levels:
        return None
    hi = max(sorted(levels), key=lambda c: levels[c])
    lo = min(sorted(levels), key=lambda c: levels[c])
    ratio = levels[hi] / levels[lo] if levels[lo] > 0 else None
    return LevelSpread(ratio=ratio, highest=hi, lowest=lo, levels=dict(sorted(levels.items())))


def _job(problem: Problem, r: Request, c: Cluster, g: str, start: int, end: int, pinned: bool) -> _Job:
    h = problem.horizon.slot_hours
    kw = r.gpus * problem.gpu_types[g].tdp_watts / 1000.0
    lo, hi = max(0, start), min(problem.horizon.slots, end)
    grams = sum(kw * c.pue * h * c.intensity(t) for t in range(lo, hi))
    return _Job(r, c, g, start, end, pinned, kw, kw * c.pue * h * max(0, end - start), grams,
                r.gpus * max(0, end - start) * h)


def _state(problem: Problem, jobs: list[_Job]) -> _State:
    slots = problem.horizon.slots
    free = {(c.id, g): np.array(available(c, g, slots), dtype=np.int64) for c in problem.clusters for g in c.gpus}
    draw = {c.id: np.zeros(slots) for c in problem.clusters}
    state = _State(free, draw)
    for j in jobs:
        lo, hi = max(0, j.start), min(slots, j.end)
        free[(j.cluster.id, j.gpu_type)][lo:hi] -= j.request.gpus
        draw[j.cluster.id][lo:hi] += j.kw
        state.kwh += j.kwh
        state.grams += j.grams
        state.org_hours[j.request.org] += j.hours
    return state


def _org_limit(problem: Problem) -> float:
    share = problem.policy.org_cap_share
    if share is None:
        return math.inf
    slots = problem.horizon.slots
    gpu_slots = sum(sum(available(c, g, slots)) for c in problem.clusters for g in c.gpus)
    return share * gpu_slots * problem.horizon.slot_hours


def _under(value: float, limit: float) -> bool:
    if math.isinf(limit):
        return True
    return value <= limit - STRICT * max(1.0, abs(limit))


def _options(problem: Problem, r: Request) -> list[tuple[Cluster, str, int, int]]:
    """(cluster, type, first start, last start) that rules 2–4 allow."""
    deadline = problem.deadline(r)
    out = []
    for c in problem.clusters:
        if r.countries is not None and c.country not in r.countries:
            continue
        for g, rt in sorted(r.runtime_slots.items()):
            if c.gpus.get(g, 0) > 0 and g in problem.gpu_types and deadline - rt >= r.earliest_slot:
                out.append((c, g, r.earliest_slot, deadline - rt))
    return out


def _budgets_fit(problem: Problem, state: _State, job: _Job, freed: tuple[float, float, float]) -> bool:
    """Energy, carbon and organisation cap, with ``freed`` (kWh, g, org hours) given back by evictions."""
    pol = problem.policy
    if pol.energy_budget_mwh is not None and not _under(state.kwh - freed[0] + job.kwh, 1000 * pol.energy_budget_mwh):
        return False
    if pol.carbon_budget_t is not None and not _under(state.grams - freed[1] + job.grams, 1e6 * pol.carbon_budget_t):
        return False
    return _under(state.org_hours[job.request.org] - freed[2] + job.hours, _org_limit(problem))


def _slots_fit(free: npt.NDArray[np.int64], draw: FloatArray, job: _Job) -> bool:
    cap = job.cluster.power_cap_kw
    if not bool((free >= job.request.gpus).all()):
        return False
    return cap is None or bool((draw + job.kw <= cap - STRICT * max(1.0, cap)).all())


def _window_fits(free: npt.NDArray[np.int64], draw: FloatArray, r: Request, c: Cluster, g: str, kw: float,
                 first: int, last: int) -> npt.NDArray[np.int64]:
    """Starts in ``[first, last]`` whose every slot has the GPUs and the power (before budgets)."""
    rt = r.runtime_slots[g]
    if last < first:
        return np.zeros(0, dtype=np.int64)
    window = slice(first, last + rt)
    ok = free[window] >= r.gpus
    if c.power_cap_kw is not None:
        ok &= draw[window] + kw <= c.power_cap_kw - STRICT * max(1.0, c.power_cap_kw)
    bad = np.concatenate(([0], np.cumsum(~ok)))
    starts = np.arange(first, last + 1, dtype=np.int64)
    fitting: npt.NDArray[np.int64] = starts[(bad[rt:] - bad[: len(starts)]) == 0]
    return fitting


def _fits(problem: Problem, state: _State, r: Request) -> bool:
    for c, g, first, last in _options(problem, r):
        kw = r.gpus * problem.gpu_types[g].tdp_watts / 1000.0
        for s in _window_fits(state.free[(c.id, g)], state.draw[c.id], r, c, g, kw, first, last):
            job = _job(problem, r, c, g, int(s), int(s) + r.runtime_slots[g], False)
            if _budgets_fit(problem, state, job, (0.0, 0.0, 0.0)):
                return True
    return False


def _complains(problem: Problem, state: _State, jobs: list[_Job], r: Request, work: dict[str, float],
               level: dict[str, float]) -> bool:
    shares = problem.policy.category_shares
    own = work[r.category]
    threshold = max((1 - EPSILON) * (own + _work(problem, r)), (1 + EPSILON) * own) / shares[r.category]
    better = {d for d, lv in level.items() if d != r.category and lv > threshold}
    movable = sorted((j for j in jobs if not j.pinned and j.request.category in better),
                     key=lambda j: (-level[j.request.category], -j.request.gpus, j.request.id))
    for c, g, first, last in _options(problem, r):
        kw = r.gpus * problem.gpu_types[g].tdp_watts / 1000.0
        free, draw = state.free[(c.id, g)].copy(), state.draw[c.id].copy()
        for j in movable:  # everything these categories hold here, evicted at once: a necessary condition
            if j.cluster.id == c.id:
                lo, hi = max(0, j.start), min(problem.horizon.slots, j.end)
                free[lo:hi] += j.request.gpus if j.gpu_type == g else 0
                draw[lo:hi] -= j.kw
        for s in _window_fits(free, draw, r, c, g, kw, first, last):
            if _evicts(problem, state, movable, r, c, g, int(s), int(s) + r.runtime_slots[g], work, threshold):
                return True
    return False


def _keeps_level(problem: Problem, d: str, remaining: float, threshold: float) -> bool:
    share = problem.policy.category_shares.get(d, 0.0)
    return share <= 0 or remaining / share >= threshold * (1 + STRICT)


def _evicts(problem: Problem, state: _State, movable: list[_Job], r: Request, c: Cluster, g: str, s: int, e: int,
            work: dict[str, float], threshold: float) -> bool:
    """The greedy eviction of the module docstring, for one (cluster, type, start)."""
    job = _job(problem, r, c, g, s, e, False)
    free = state.free[(c.id, g)][s:e].copy()
    draw = state.draw[c.id][s:e].copy()
    cap = c.power_cap_kw
    left = dict(work)
    evicted: set[str] = set()
    freed = [0.0, 0.0, 0.0]

    def evict(j: _Job) -> None:
        left[j.request.category] -= _work(problem, j.request)
        evicted.add(j.request.id)
        freed[0] += j.kwh
        freed[1] += j.grams
        freed[2] += j.hours if j.request.org == r.org else 0.0

    for j in movable:
        if _slots_fit(free, draw, job):
            break
        if j.cluster.id != c.id or j.end <= s or j.start >= e:
            continue
        lo, hi = max(s, j.start) - s, min(e, j.end) - s
        short_gpus = j.gpu_type == g and bool((free[lo:hi] < r.gpus).any())
        short_power = cap is not None and bool((draw[lo:hi] + job.kw > cap - STRICT * max(1.0, cap)).any())
        if not (short_gpus or short_power):
            continue
        if not _keeps_level(problem, j.request.category, left[j.request.category] - _work(problem, j.request),
                            threshold):
            continue
        evict(j)
        if j.gpu_type == g:
            free[lo:hi] += j.request.gpus
        draw[lo:hi] -= j.kw
    if not _slots_fit(free, draw, job):
        return False
    for j in movable:
        if _budgets_fit(problem, state, job, (freed[0], freed[1], freed[2])):
            return True
        if j.request.id in evicted or not _keeps_level(
                problem, j.request.category, left[j.request.category] - _work(problem, j.request), threshold):
            continue
        evict(j)
    return _budgets_fit(problem, state, job, (freed[0], freed[1], freed[2]))
