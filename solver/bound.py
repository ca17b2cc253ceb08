"""A valid upper bound on value: the LP relaxation, certified through its dual.

Columns are (request r, option o) with 0 ≤ x_ro ≤ 1; time is relaxed into area.

    maximise    Σ_ro v_r x_ro                      v_r = merit_r · work_r
    subject to  Σ_o x_ro ≤ 1                         for every request r
                Σ a_ro^i x_ro ≤ b_i                  for every coupling row i:
       pool p          a = gpus·runtime,        b = Σ_t free GPUs of p        (rule 5, summed over slots)
       pool p, [0,B)   as above over requests with deadline ≤ B, b over slots < B
       pool p, [A,T)   as above over requests with earliest ≥ A, b over slots ≥ A
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

WINDOW_GRID = 24  # slots between the window rows' boundaries


@dataclass(frozen=True)
class Columns:
    req: IntArray
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
    rows = [(r, o) for r in range(idx.n) if ctx.alone[r] for o in idx.options[r] if o.runtime <= idx.deadline[r] -
            idx.earliest[r]]
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


def _rows(ctx: Context, cols: Columns) -> list[Row]:
    idx = ctx.index
    rows: list[Row] = []
    cap_cum = np.zeros((idx.pool_cap.shape[0], idx.slots + 1))
    np.cumsum(idx.pool_cap, axis=1, out=cap_cum[:, 1:])
    by_pool = np.argsort(cols.pool, kind="stable")
    edges = np.searchsorted(cols.pool[by_pool], np.arange(len(idx.pool_type) + 1))
    deadline, earliest = idx.deadline[cols.req], idx.earliest[cols.req]
    for p in range(len(idx.pool_type)):
        sel = by_pool[edges[p] : edges[p + 1]]
        if sel.size == 0:
            continue
        rows.append(Row(sel, cols.area[sel], float(cap_cum[p, -1])))
        for b in range(WINDOW_GRID, idx.slots, WINDOW_GRID):
            pre = sel[deadline[sel] <= b]
            if pre.size:
                rows.append(Row(pre, cols.area[pre], float(cap_cum[p, b])))
            suf = sel[earliest[sel] >= b]
            if suf.size:
                rows.append(Row(suf, cols.area[suf], float(cap_cum[p, -1] - cap_cum[p, b])))
    for c in range(len(idx.cluster_ids)):
        if np.isfinite(idx.power_cap_w[c]):
            sel = np.flatnonzero(cols.cluster == c)
            if sel.size:
                rows.append(Row(sel, cols.power_area[sel], float(idx.power_cap_w[c] * idx.slots)))
    everything = np.arange(len(cols.req))
    if np.isfinite(idx.energy_budget_kwh):
        rows.append(Row(everything, cols.energy, float(idx.energy_budget_kwh)))
    if np.isfinite(idx.carbon_budget_g):
        rows.append(Row(everything, cols.co2, float(idx.carbon_budget_g)))
    if np.isfinite(idx.org_cap_gpu_hours):
        org = idx.org[cols.req]
        by_org = np.argsort(org, kind="stable")
        org_edges = np.searchsorted(org[by_org], np.arange(len(idx.orgs) + 1))
        for o in range(len(idx.orgs)):
            sel = by_org[org_edges[o] : org_edges[o + 1]]
            if sel.size and cols.gpu_hours[sel].sum() > idx.org_cap_gpu_hours:
                rows.append(Row(sel, cols.gpu_hours[sel], float(idx.org_cap_gpu_hours)))
    return rows


def dual_bound(ctx: Context, cols: Columns, rows: list[Row], y: FloatArray) -> float:
    """D(y): a valid upper bound on value for any y ≥ 0."""
    y = np.maximum(y, 0.0)
    used = [(row, yi) for row, yi in zip(rows, y, strict=True) if yi > 0]
    price = np.zeros(len(cols.req))
    if used:
        at = np.concatenate([row.cols for row, _ in used])
        weights = np.concatenate([yi * row.coef for row, yi in used])
        price = np.bincount(at, weights=weights, minlength=len(cols.req))
    reduced = cols.value - price
    starts = np.flatnonzero(np.r_[True, cols.req[1:] != cols.req[:-1]])  # columns are grouped by request
    best = np.maximum.reduceat(reduced, starts)
    return float(sum(row.rhs * yi for row, yi in used) + np.maximum(best, 0.0).sum())


def value_bound(ctx: Context, deadline: float, clock: Callable[[], float]) -> float:
    """The LP bound (certified), or the trivial bound Σ v over requests that fit alone if time is short."""
    idx = ctx.index
    trivial = float((idx.merit * idx.work)[ctx.alone].sum())
    cols = _columns(ctx)
    if cols.req.size == 0:
        return 0.0
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
        return trivial
    request = linear_solver_pb2.MPModelRequest(
        model=model,
        solver_type=linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING,
        solver_time_limit_seconds=seconds,
    )
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    if not response.dual_value:
        return trivial
    duals = np.array(response.dual_value[first_coupling:], dtype=np.float64)
    return min(trivial, dual_bound(ctx, cols, rows, duals), dual_bound(ctx, cols, rows, -duals))
