"""A valid upper bound on value: a time-bucketed LP relaxation, certified through its dual.

Columns are (request r, option o, start group g) with 0 ≤ x_rog ≤ 1, where g is a run of consecutive
starts in r's window (the whole window at the coarsest shape).  Every coefficient is the least a job
uses over the starts of its group, so every valid plan is a feasible 0/1 point and the LP optimum
bounds value.  Narrow groups make the LP nearly time-indexed.  ``default_shapes`` picks the LPs a problem
can afford: the LP before issue 10 (LEAN) always, whose duals guide the search, and on small problems
the tightened interval LP and a time-indexed one, which only lower the bound.

    maximise    Σ v_r x_rog                             v_r = merit_r · work_r
    subject to  Σ_og x_rog ≤ 1                          for every request r
                Σ a_rog^i x_rog ≤ b_i                   for every coupling row i, with
                ov = least overlap of the job with [A,B) over the group's starts (energetic reasoning):
       pool p, [A,B)       a = gpus·ov,            b = Σ_{A≤t<B} free GPUs of p                  (rule 5)
       cuts p, [A,B), d    a = ⌊gpus/d⌋·ov,        b = Σ_{A≤t<B} ⌊free GPUs of p at t / d⌋       (rule 5)
       power c, [A,B)      a = power·ov,           b = cap_c·(B − A), and its cuts ⌊power/d⌋     (rule 6)
       energy              a = energy_ro,          b = budget                                    (rule 7)
       carbon              a = least CO2 at any start, b = budget                                (rule 8)
       organisation o      a = GPU-hours as run,   b = cap                                       (rule 9)
    for [A,B) every bucket of the fine grid and every pair of points of the coarse grid.

The cuts are Chvátal–Gomory roundings of one slot's capacity: in a slot, Σ gpus_j ≤ F gives
Σ ⌊gpus_j/d⌋ ≤ ⌊F/d⌋ for whole jobs, which the LP's fractions of a gang do not respect (two
64-GPU gangs in an 88-GPU pool: 64 + 64·0.375 = 88, but at d = 30 they count 2 + 2·0.375 > 2).
Divisors d = ⌊F/m⌋ + 1 for m = 2, 3, 4 say "at most m − 1 jobs above F/m", weighted by size; they
dominate the "at most k big gangs" rows of the LP before them, over the same jobs.  Larger m moved
no bound of the bench's instances.

The reported bound does not trust the LP solver's tolerance: for the coupling duals y ≥ 0 it
returns the Lagrangian dual

    D(y) = Σ_i b_i y_i + Σ_r max(0, max_og (v_r − Σ_i a_rog^i y_i)),

which bounds value for *any* y ≥ 0, computed exactly in numpy.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from solver.index import FloatArray, IntArray
from solver.placements import PlacementBook
from solver.policies.base import Context

MAX_NONZEROS = 4_000_000  # coupling rows of the LP, summed over columns (a budget, not a limit)
WINDOW_GRID = 12  # slots between the points of the coarse grid, at the finest
FINE_WIDTHS = ((1, 10_000), (2, 30_000))  # (width, most (option, start) pairs) of the time-indexed LP
CUT_PARTS = (2, 3, 4)  # m of the cuts' divisors d = ⌊F/m⌋ + 1: the jobs of the old "at most m − 1 gangs" rows
POWER_SLACK_W = 1e-3  # power demands rounded down and caps up by this much before a cut's ⌊·/d⌋


@dataclass(frozen=True)
class Shape:
    """How finely the LP sees time: starts per column group and slots per fine bucket (None: none)."""

    width: int | None  # None: one column per (request, option), its whole window
    buckets: int | None  # None: only the coarse grid's intervals
    lean: bool = False  # the LP before issue 10, for problems where GLOP could not afford more (see LEAN)


INTERVAL = Shape(None, None)  # one column per option, coarse energetic intervals only
# The LP before issue 10 (whole windows, 0/1 gang weights, power over the horizon): the search's guide, and
# the whole bound where the problem is too large for more.  The tightened rows moved X's bound by 0.15 %
# and took GLOP twice as long, past the bound phase's share of the time limit.
LEAN = Shape(None, None, lean=True)


@dataclass(frozen=True)
class Columns:
    req: IntArray
    option: IntArray
    first: IntArray  # the group's starts are first … last
    last: IntArray
    runtime: IntArray
    pool: IntArray
    cluster: IntArray
    gpus: IntArray
    power: FloatArray  # W while it runs
    energy: FloatArray
    co2: FloatArray
    gpu_hours: FloatArray
    value: FloatArray


def _columns(ctx: Context, shape: Shape) -> Columns:
    """The LP's columns, grouped by request: whole windows for LEAN, else the runs of starts where each
    option fits alone (rules 2–9 in an empty plan), cut into groups of ``shape.width`` starts."""
    idx = ctx.index
    parts = _whole_windows(ctx) if shape.lean else _fitting_runs(ctx, shape.width)
    count = np.array([len(f) for _, _, f, _ in parts], dtype=np.int64)
    opts = [idx.options[r][k] for r, k, _, _ in parts]

    def per_column(values: list[float] | list[int], dtype: type = np.float64) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), count)

    req = per_column([r for r, _, _, _ in parts], np.int64)
    runtime = per_column([o.runtime for o in opts], np.int64)
    cluster = per_column([o.cluster for o in opts], np.int64)
    energy = per_column([o.energy_kwh for o in opts])
    co2 = np.zeros(req.size)
    if np.isfinite(idx.carbon_budget_g) and parts:
        cum = idx.intensity_cum
        for rt in np.unique(runtime):
            window = cum[:, rt:] - cum[:, :-rt]  # (clusters, starts) intensity summed over rt slots
            least = window.min(axis=1)
            sel = runtime == rt
            co2[sel] = energy[sel] / rt * least[cluster[sel]]
    empty_ints = np.zeros(0, dtype=np.int64)
    return Columns(
        req=req,
        option=per_column([k for _, k, _, _ in parts], np.int64),
        first=np.concatenate([f for _, _, f, _ in parts] or [empty_ints]),
        last=np.concatenate([la for _, _, _, la in parts] or [empty_ints]),
        runtime=runtime,
        pool=per_column([o.pool for o in opts], np.int64),
        cluster=cluster,
        gpus=idx.gpus[req],
        power=per_column([o.power_w for o in opts]),
        energy=energy,
        co2=co2,
        gpu_hours=per_column([o.gpu_hours for o in opts]),
        value=(idx.merit * idx.work)[req],
    )


Part = tuple[int, int, IntArray, IntArray]  # (request, option, first starts, last starts) of its groups


def _whole_windows(ctx: Context) -> list[Part]:
    """One group per option from the window's first start to its last, as the LP before issue 10."""
    idx = ctx.index
    parts: list[Part] = []
    for r in np.flatnonzero(ctx.alone):
        e, d = int(idx.earliest[r]), int(idx.deadline[r])
        parts += [(int(r), k, np.array([e]), np.array([d - o.runtime])) for k, o in enumerate(idx.options[r])
                  if o.runtime <= d - e]
    return parts


def _fitting_runs(ctx: Context, width: int | None) -> list[Part]:
    """Runs of starts where each option fits alone, cut into groups of ``width`` (None: one group per option)."""
    empty = PlacementBook(ctx.index)
    parts: list[Part] = []
    for r in np.flatnonzero(ctx.alone):
        for group in empty.groups(int(r)):
            fits, starts = empty.feasible(int(r), group)
            for row in np.flatnonzero(fits.any(axis=1)) if fits.size else []:
                at = np.flatnonzero(fits[row])
                if width is None:
                    firsts, lasts = at[:1], at[-1:]
                else:
                    run = np.r_[0, np.cumsum(np.diff(at) > 1)]  # runs of consecutive starts
                    pos = np.arange(at.size) - np.searchsorted(run, run)  # place within its run
                    begin = pos % width == 0
                    end = np.r_[begin[1:], True] | np.r_[run[1:] != run[:-1], True]
                    firsts, lasts = at[begin], at[end]
                parts.append((int(r), int(group.option_ids[row]), starts[firsts], starts[lasts]))
    return parts


@dataclass(frozen=True)
class Row:
    cols: IntArray
    coef: FloatArray
    rhs: float
    kind: str = "capacity"


def _rows(ctx: Context, cols: Columns, shape: Shape) -> list[Row]:
    idx = ctx.index
    rows: list[Row] = []
    intervals = _intervals(idx.slots, len(cols.req), shape.buckets)
    power_intervals, power_parts = ([(0, idx.slots)], ()) if shape.lean else (intervals, CUT_PARTS)
    by_pool = np.argsort(cols.pool, kind="stable")
    edges = np.searchsorted(cols.pool[by_pool], np.arange(len(idx.pool_type) + 1))
    for p in range(len(idx.pool_type)):
        sel = by_pool[edges[p] : edges[p + 1]]
        rows += _resource_rows(cols, sel, cols.gpus[sel].astype(np.float64), idx.pool_cap[p].astype(np.float64),
                               intervals, 0.0, CUT_PARTS, shape.lean)
    for c in range(len(idx.cluster_ids)):
        sel = np.flatnonzero(cols.cluster == c)
        if np.isfinite(idx.power_cap_w[c]) and sel.size:
            cap = np.full(idx.slots, idx.power_cap_w[c])
            rows += _resource_rows(cols, sel, cols.power[sel], cap, power_intervals, POWER_SLACK_W, power_parts)
    everything = np.arange(len(cols.req))
    if np.isfinite(idx.energy_budget_kwh):
        rows.append(Row(everything, cols.energy, float(idx.energy_budget_kwh), "energy"))
    if np.isfinite(idx.carbon_budget_g):
        rows.append(Row(everything, cols.co2, float(idx.carbon_budget_g), "carbon"))
    if np.isfinite(idx.org_cap_gpu_hours):
        org = idx.org[cols.req]
        by_org = np.argsort(org, kind="stable")
        org_edges = np.searchsorted(org[by_org], np.arange(len(idx.orgs) + 1))
        for o in range(len(idx.orgs)):
            sel = by_org[org_edges[o] : org_edges[o + 1]]
            if sel.size and cols.gpu_hours[sel].sum() > idx.org_cap_gpu_hours:
                rows.append(Row(sel, cols.gpu_hours[sel], float(idx.org_cap_gpu_hours)))
    return rows


def _resource_rows(cols: Columns, sel: IntArray, demand: FloatArray, cap: FloatArray,
                   intervals: list[tuple[int, int]], slack: float, parts: tuple[int, ...], clip: bool = False
                   ) -> list[Row]:
    """Capacity rows and their cuts for one resource: ``demand`` per column of ``sel``, ``cap`` per slot.

    A cut's weights are clipped to 1 where ``clip`` asks for the cheaper 0/1 rows (still valid: lower
    weights, same capacity).
    ``slack`` is how far the placement book lets a float demand exceed its cap; the cuts give it back
    before rounding (demands down, capacities up) so float noise never makes them cut off a valid plan.
    """
    if sel.size == 0:
        return []
    cap_cum = np.r_[0.0, np.cumsum(cap)]
    biggest = float(cap.max())
    divisors = sorted({float(np.floor(biggest / m) + 1) if slack == 0 else biggest / m * (1 + 1e-9)
                       for m in parts if biggest / m >= 1})
    weights = [np.floor((demand - slack) / d) for d in divisors]
    if clip:
        weights = [np.minimum(w, 1.0) for w in weights]
    cut_caps = [np.r_[0.0, np.cumsum(np.floor((cap + slack) / d))] for d in divisors]
    first, last, runtime = cols.first[sel], cols.last[sel], cols.runtime[sel]
    rows: list[Row] = []
    for a, b in intervals:
        overlap = _least_overlap(a, b, first, last, runtime)
        inside = overlap > 0
        if not inside.any():
            continue
        used = overlap[inside].astype(np.float64)
        coef = (demand[inside] - slack) * used
        rhs = float(cap_cum[b] - cap_cum[a])
        if coef.sum() > rhs:
            rows.append(Row(sel[inside], coef, rhs))
        for w, cc in zip(weights, cut_caps, strict=True):
            big = w[inside] > 0
            cut = w[inside][big] * used[big]
            cut_rhs = float(cc[b] - cc[a])
            if cut.sum() > cut_rhs:
                rows.append(Row(sel[inside][big], cut, cut_rhs, "cut"))
    return rows


def _intervals(slots: int, columns: int, buckets: int | None) -> list[tuple[int, int]]:
    """The buckets of the fine grid, or without one every pair of points of the coarse grid.

    Pairs grow with the square of the grid points and nonzeros with the columns too,
    so large problems get a coarser grid: about MAX_NONZEROS / columns intervals.
    """
    if buckets is not None:
        fine = sorted({*range(0, slots, buckets), slots})
        return list(itertools.pairwise(fine))
    cells = max(2, min(slots // WINDOW_GRID, int((2 * MAX_NONZEROS / max(columns, 1)) ** 0.5)))
    step = -(-slots // cells)
    points = sorted({*range(0, slots, step), slots})
    return [(a, b) for i, a in enumerate(points) for b in points[i + 1 :]]


def _least_overlap(a: int, b: int, first: IntArray, last: IntArray, runtime: IntArray) -> IntArray:
    """Slots of [a, b) a job must occupy wherever it starts in first … last (energetic reasoning)."""
    most = np.minimum(runtime, b - a)
    from_left = first + runtime - a  # starting as early as it can
    from_right = b - last  # starting as late as it can
    out: IntArray = np.clip(np.minimum(most, np.minimum(from_left, from_right)), 0, None)
    return out


def default_shapes(ctx: Context) -> tuple[Shape, ...]:
    """LEAN first, whose guidance the search has always had; then, where the problem is small enough to
    afford them, INTERVAL and a time-indexed shape, which only lower the bound.  At M and L the tightened
    interval LP lowered the bound by 0.03 % and 0.14 % for a second LP's time, so they keep LEAN alone."""
    fine = fine_shape(ctx)
    return (LEAN,) if fine is None else (LEAN, INTERVAL, fine)


def fine_shape(ctx: Context) -> Shape | None:
    """A time-indexed shape where the problem has few enough (option, start) pairs for it, else None."""
    idx = ctx.index
    starts = sum(max(0, int(idx.deadline[r] - idx.earliest[r]) - o.runtime + 1)
                 for r in np.flatnonzero(ctx.alone) for o in idx.options[r])
    width = next((w for w, most in FINE_WIDTHS if starts <= most), None)
    return None if width is None else Shape(width, width)


def dual_bound(ctx: Context, cols: Columns, rows: list[Row], y: FloatArray) -> tuple[float, FloatArray]:
    """D(y), a valid upper bound on value for any y ≥ 0, and each column's resource price a·y."""
    y = np.maximum(y, 0.0)
    used = [(row, yi) for row, yi in zip(rows, y, strict=True) if yi > 0]
    price: FloatArray = np.zeros(len(cols.req))
    if used:
        at = np.concatenate([row.cols for row, _ in used])
        weights = np.concatenate([yi * row.coef for row, yi in used])
        price = np.bincount(at, weights=weights, minlength=len(cols.req)).astype(np.float64)
    reduced = cols.value - price
    starts = np.flatnonzero(np.r_[True, cols.req[1:] != cols.req[:-1]])  # columns are grouped by request
    best = np.maximum.reduceat(reduced, starts)
    return float(sum(row.rhs * yi for row, yi in used) + np.maximum(best, 0.0).sum()), price


@dataclass(frozen=True)
class Relaxation:
    """The certified bound, and the LP's guidance for the greedy and the neighbourhoods."""

    bound: float
    selected: FloatArray  # per request, Σ_og x_rog in the LP optimum (0 where unknown)
    prices: list[FloatArray]  # per request, the least dual price a·y of each option over its groups (inf: none)
    energy_price: float = 0.0  # value per kWh of the energy budget's dual
    carbon_price: float = 0.0  # value per gram of the carbon budget's dual

    def reduced_value(self, ctx: Context, r: int) -> float:
        v = float(ctx.index.merit[r] * ctx.index.work[r])
        p = self.prices[r]
        return v - float(p.min()) if p.size and np.isfinite(p.min()) else v


def trivial(ctx: Context) -> Relaxation:
    """Σ value of the requests that fit alone: valid, loose, and free."""
    idx = ctx.index
    return Relaxation(
        float((idx.merit * idx.work)[ctx.alone].sum()),
        np.zeros(idx.n),
        [np.zeros(len(o)) for o in idx.options],
    )


def relax(ctx: Context, deadline: float, clock: Callable[[], float], shapes: tuple[Shape, ...] | None = None
          ) -> Relaxation:
    """The tightest bound of the LPs of ``shapes`` that GLOP solves by ``deadline``, with the first one's guidance.

    The first (by default LEAN) guides the greedy and the neighbourhoods: a tighter LP's guidance moved the
    plans (at S, in one deterministic run, `value` +0.1 % and `fair` −7 % of value), and tuning the search
    to it is not the bound's business.

    The trivial bound if none finishes.
    """
    fallback = trivial(ctx)
    guide: Relaxation | None = None
    bound = fallback.bound
    for shape in shapes or default_shapes(ctx):
        found = _solve(ctx, shape, deadline, clock)
        if found is not None:
            guide = guide or found
            bound = min(bound, found.bound)
    if guide is None or bound >= fallback.bound:
        return fallback
    return dataclasses.replace(guide, bound=bound)


def _solve(ctx: Context, shape: Shape, deadline: float, clock: Callable[[], float]) -> Relaxation | None:
    idx = ctx.index
    cols = _columns(ctx, shape)
    if cols.req.size == 0:
        return Relaxation(0.0, np.zeros(idx.n), [np.zeros(len(o)) for o in idx.options])
    rows = _rows(ctx, cols, shape)
    model = linear_solver_pb2.MPModelProto(maximize=True)
    for v in cols.value:
        model.variable.add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=float(v))
    req_edges = np.searchsorted(cols.req, np.arange(idx.n + 1))  # columns are grouped by request
    for r in range(idx.n):
        lo, hi = int(req_edges[r]), int(req_edges[r + 1])
        if hi - lo > 1:
            con = model.constraint.add(upper_bound=1.0)
            con.var_index.extend(range(lo, hi))
            con.coefficient.extend([1.0] * (hi - lo))
    first_coupling = len(model.constraint)
    for row in rows:
        con = model.constraint.add(upper_bound=row.rhs)
        con.var_index.extend(row.cols.tolist())
        con.coefficient.extend(row.coef.tolist())
    seconds = deadline - clock()
    if seconds <= 0.5:
        return None
    request = linear_solver_pb2.MPModelRequest(
        model=model,
        solver_type=linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING,
        solver_time_limit_seconds=seconds,
    )
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    if not response.dual_value or not response.variable_value:
        return None
    duals = np.array(response.dual_value[first_coupling:], dtype=np.float64)
    y = min((duals, -duals), key=lambda d: dual_bound(ctx, cols, rows, d)[0])
    y = np.maximum(y, 0.0)
    bound, price = dual_bound(ctx, cols, rows, y)
    x = np.array(response.variable_value, dtype=np.float64)
    selected = np.bincount(cols.req, weights=x, minlength=idx.n).astype(np.float64)
    prices = [np.full(len(o), np.inf) for o in idx.options]
    for r, k, pr in zip(cols.req.tolist(), cols.option.tolist(), price.tolist(), strict=True):
        prices[r][k] = min(prices[r][k], pr)
    by_kind = {row.kind: float(yi) for row, yi in zip(rows, y, strict=True) if row.kind in ("energy", "carbon")}
    return Relaxation(bound, selected, prices, by_kind.get("energy", 0.0), by_kind.get("carbon", 0.0))
