"""A valid upper bound on value: the LP relaxation, certified through its dual.

Columns are (request r, option o) with 0 ≤ x_ro ≤ 1; time is relaxed into area.

    maximise    Σ_ro v_r x_ro                      v_r = merit_r · work_r
    subject to  Σ_o x_ro ≤ 1                         for every request r
                Σ a_ro^i x_ro ≤ b_i                  for every coupling row i:
       pool p, [A,B)   a = gpus·(least overlap of the job with [A,B) at any start in its window),
                       b = Σ_{A≤t<B} free GPUs of p, for every [A,B) between grid points  (rule 5)
       gangs p, [A,B), k   over jobs with more than G_p/(k+1) GPUs (G_p: the pool's size), at
                       most k run at once: a = least overlap, b = k·(B − A)                (rule 5)
       cluster c       a = power·runtime,       b = cap_c · slots             (rule 6)
       energy          a = energy_ro,           b = budget                    (rule 7)
       carbon          a = least CO2 at any start, b = budget                  (rule 8)
       organisation o  a = GPU-hours as run,    b = cap                       (rule 9)

Every valid plan is a feasible 0/1 point, so the LP optimum bounds value.  The
reported bound does not trust the LP solver's tolerance: for the coupling duals
y ≥ 0 it returns the Lagrangian dual

    D(y) = Σ_i b_i y_i + Σ_r max(0, max_o (v_r − Σ_i a_ro^i y_i)),

which bounds value for *any* y ≥ 0, computed exactly in numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from solver.index import FloatArray, IntArray
from solver.policies.base import Context

MAX_NONZEROS = 4_000_000  # interval rows of the LP, summed over columns (a budget, not a limit)
WINDOW_GRID = 12  # slots between the grid points of the interval rows, at the finest


@dataclass(frozen=True)
class Columns:
    req: IntArray
    option: IntArray
    runtime: IntArray
    pool: IntArray
    cluster: IntArray
    area: FloatArray  # gpus · runtime (GPU-slots)
    power_area: FloatArray  # W · slots
    energy: FloatArray
    co2: FloatArray
    gpu_hours: FloatArray
    value: FloatArray


def _columns(ctx: Context) -> Columns:
    idx = ctx.index
    keyed = [(r, k, o) for r in range(idx.n) if ctx.alone[r] for k, o in enumerate(idx.options[r])
             if o.runtime <= idx.deadline[r] - idx.earliest[r]]
    rows = [(r, o) for r, _, o in keyed]
    req = np.array([r for r, _ in rows], dtype=np.int64)
    runtime = np.array([o.runtime for _, o in rows], dtype=np.int64)
    cluster = np.array([o.cluster for _, o in rows], dtype=np.int64)
    energy = np.array([o.energy_kwh for _, o in rows], dtype=np.float64)
    co2 = np.zeros(len(rows))
    if np.isfinite(idx.carbon_budget_g) and rows:
        cum = idx.intensity_cum
        for rt in np.unique(runtime):
            window = cum[:, rt:] - cum[:, :-rt]  # (clusters, starts) intensity summed over rt slots
            least = window.min(axis=1)
            sel = runtime == rt
            co2[sel] = energy[sel] / rt * least[cluster[sel]]
    return Columns(
        req=req,
        option=np.array([k for _, k, _ in keyed], dtype=np.int64),
        runtime=runtime,
        pool=np.array([o.pool for _, o in rows], dtype=np.int64),
        cluster=cluster,
        area=(idx.gpus[req] * runtime).astype(np.float64),
        power_area=np.array([o.power_w * o.runtime for _, o in rows], dtype=np.float64),
        energy=energy,
        co2=co2,
        gpu_hours=np.array([o.gpu_hours for _, o in rows], dtype=np.float64),
        value=idx.merit[req] * idx.work[req],
    )


@dataclass(frozen=True)
class Row:
    cols: IntArray
    coef: FloatArray
    rhs: float
    kind: str = "capacity"


def _rows(ctx: Context, cols: Columns) -> list[Row]:
    idx = ctx.index
    rows: list[Row] = []
    cap_cum = np.zeros((idx.pool_cap.shape[0], idx.slots + 1))
    np.cumsum(idx.pool_cap, axis=1, out=cap_cum[:, 1:])
    by_pool = np.argsort(cols.pool, kind="stable")
    edges = np.searchsorted(cols.pool[by_pool], np.arange(len(idx.pool_type) + 1))
    deadline, earliest = idx.deadline[cols.req], idx.earliest[cols.req]
    grid = _grid(idx.slots, len(cols.req))
    for p in range(len(idx.pool_type)):
        sel = by_pool[edges[p] : edges[p + 1]]
        if sel.size == 0:
            continue
        gang = idx.gpus[cols.req[sel]]
        biggest = int(idx.pool_cap[p].max())
        for a, b in grid:
            overlap = _least_overlap(a, b, earliest[sel], deadline[sel], cols.runtime[sel])
            inside = overlap > 0
            if inside.any():
                cols_in = sel[inside]
                rows.append(Row(cols_in, (gang[inside] * overlap[inside]).astype(np.float64),
                                float(cap_cum[p, b] - cap_cum[p, a])))
            for k in (1, 2, 3):
                big = inside & (gang * (k + 1) > biggest)
                if big.any() and overlap[big].sum() > k * (b - a):
                    rows.append(Row(sel[big], overlap[big].astype(np.float64), float(k * (b - a)), "gangs"))
    for c in range(len(idx.cluster_ids)):
        if np.isfinite(idx.power_cap_w[c]):
            sel = np.flatnonzero(cols.cluster == c)
            if sel.size:
                rows.append(Row(sel, cols.power_area[sel], float(idx.power_cap_w[c] * idx.slots)))
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


def _grid(slots: int, columns: int) -> list[tuple[int, int]]:
    """Intervals [A, B) between grid points, and the horizon's ends.

    Rows grow with the square of the grid points and nonzeros with the columns too,
    so large problems get a coarser grid: about MAX_NONZEROS / columns intervals.
    """
    cells = max(2, min(slots // WINDOW_GRID, int((2 * MAX_NONZEROS / max(columns, 1)) ** 0.5)))
    step = -(-slots // cells)
    points = sorted({*range(0, slots, step), slots})
    return [(a, b) for i, a in enumerate(points) for b in points[i + 1 :]]


def _least_overlap(a: int, b: int, earliest: IntArray, deadline: IntArray, runtime: IntArray) -> IntArray:
    """Slots of [a, b) a job must occupy wherever it starts in its window (energetic reasoning)."""
    most = np.minimum(runtime, b - a)
    from_left = earliest + runtime - a  # starting as early as it can
    from_right = b - (deadline - runtime)  # starting as late as it can
    out: IntArray = np.clip(np.minimum(most, np.minimum(from_left, from_right)), 0, None)
    return out


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
    selected: FloatArray  # per request, Σ_o x_ro in the LP optimum (0 where unknown)
    prices: list[FloatArray]  # per request, the dual price a·y of each option (inf where not a column)
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


def relax(ctx: Context, deadline: float, clock: Callable[[], float]) -> Relaxation:
    """Solve the LP with GLOP; fall back on the trivial bound if it cannot finish by ``deadline``."""
    idx = ctx.index
    fallback = trivial(ctx)
    cols = _columns(ctx)
    if cols.req.size == 0:
        return Relaxation(0.0, fallback.selected, fallback.prices)
    rows = _rows(ctx, cols)
    model = linear_solver_pb2.MPModelProto(maximize=True)
    for v in cols.value:
        model.variable.add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=float(v))
    by_req = np.argsort(cols.req, kind="stable")
    req_edges = np.searchsorted(cols.req[by_req], np.arange(idx.n + 1))
    for r in range(idx.n):
        sel = by_req[req_edges[r] : req_edges[r + 1]]
        if sel.size > 1:
            con = model.constraint.add(upper_bound=1.0)
            con.var_index.extend(sel.tolist())
            con.coefficient.extend([1.0] * sel.size)
    first_coupling = len(model.constraint)
    for row in rows:
        con = model.constraint.add(upper_bound=row.rhs)
        con.var_index.extend(row.cols.tolist())
        con.coefficient.extend(row.coef.tolist())
    seconds = deadline - clock()
    if seconds <= 0.5:
        return fallback
    request = linear_solver_pb2.MPModelRequest(
        model=model,
        solver_type=linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING,
        solver_time_limit_seconds=seconds,
    )
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    if not response.dual_value or not response.variable_value:
        return fallback
    duals = np.array(response.dual_value[first_coupling:], dtype=np.float64)
    y = min((duals, -duals), key=lambda d: dual_bound(ctx, cols, rows, d)[0])
    y = np.maximum(y, 0.0)
    bound, price = dual_bound(ctx, cols, rows, y)
    if bound >= fallback.bound:
        return fallback
    x = np.array(response.variable_value, dtype=np.float64)
    selected = np.bincount(cols.req, weights=x, minlength=idx.n).astype(np.float64)
    prices = [np.full(len(o), np.inf) for o in idx.options]
    for r, k, pr in zip(cols.req.tolist(), cols.option.tolist(), price.tolist(), strict=True):
        prices[r][k] = pr
    by_kind = {row.kind: float(yi) for row, yi in zip(rows, y, strict=True) if row.kind in ("energy", "carbon")}
    return Relaxation(bound, selected, prices, by_kind.get("energy", 0.0), by_kind.get("carbon", 0.0))
