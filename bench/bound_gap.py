"""How much of the value gap is the bound: the LP bounds against a long exact CP-SAT run, one instance at a time.

For each size it prints, side by side and from the same run:
- the tightened interval LP (one column per request and option, ``solver.bound.INTERVAL``) and the bound the
  solver reports (``relax``: the old LP, and where the problem is small the interval and time-indexed LPs),
  with their times;
- the best plan of the ``value`` policy within the bench budget;
- a long CP-SAT run of the exact interval model (``solver.model`` over every cluster and the whole horizon,
  hinted with that plan): its best plan and its proven bound.  Above WHOLE_LIMIT requests the model holds
  only the plan's requests and those the LP selects, a restriction: its plans are valid, its bound is not
  a bound on the problem, so it is not printed;
- the share of the gap between the interval LP and the best known plan that the tightest bound closes.

A valid upper bound (CP-SAT's on the whole model, or the tightened LP) below the interval LP is slack the
interval LP had, not value a solver could still find.  Size T is a small instance of the bench's shape
(100 requests, 2 clusters, 96 slots) where CP-SAT proves the optimum.

    python -m bench.bound_gap [--sizes T,S,M] [--seconds 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from simulations import workload
from solver import SolveParams, solve
from solver.bound import INTERVAL, relax
from solver.index import compile_problem
from solver.metrics import fits_alone
from solver.model import Candidate, NeighbourhoodModel
from solver.placements import Placement, PlacementBook
from solver.plan import Plan
from solver.policies import Context
from solver.problem import Problem

SMALL = (100, 2, 96, 10)  # requests, clusters, slots, organisations: size T, not part of `make bench`
PLAN_BUDGET = {"T": 10.0, "S": 30.0, "M": 30.0, "L": 120.0, "X": 300.0}


WHOLE_LIMIT = 600  # requests up to which the CP-SAT model is the whole problem


@dataclass(frozen=True)
class Row:
    size: str
    shape: str
    interval: float
    interval_seconds: float
    bound: float
    bound_seconds: float
    plan: float
    cp_best: float
    cp_bound: float | None  # None: the model was a restriction
    cp_status: str
    cp_seconds: float

    def line(self) -> str:
        best = max(self.plan, self.cp_best)
        tight = min(self.bound, self.cp_bound or self.bound)
        closed = (self.interval - tight) / (self.interval - best) if self.interval > best else 0.0
        cp_bound = "—" if self.cp_bound is None else f"{self.cp_bound:,.0f}"
        return (f"| {self.size} | {self.shape} | {self.interval:,.0f} ({self.interval_seconds:.1f} s) "
                f"| {self.bound:,.0f} ({self.bound_seconds:.1f} s) | {self.plan:,.0f} "
                f"| {self.cp_best:,.0f} | {cp_bound} ({self.cp_status}, {self.cp_seconds:.0f} s) "
                f"| {self.plan / self.interval:.3f} | {self.plan / self.bound:.3f} | {best / tight:.3f} "
                f"| {closed:.0%} |")


HEAD = ("| size | requests × clusters × slots | interval LP (s) | reported bound (s) | plan (`value`) | CP-SAT best "
        "| CP-SAT bound (status, s) | plan / interval LP | plan / bound | best known / tightest bound "
        "| share of the interval LP's gap that is bound |")


def instance(size: str) -> Problem:
    if size == "T":
        workload.BENCH_SIZES.setdefault("T", SMALL)  # bench_problem draws its shape from this table
    return workload.bench_problem(size, 0)  # type: ignore[arg-type]


def placements(ctx: Context, plan: Plan) -> dict[int, Placement]:
    idx = ctx.index
    pos = {rid: i for i, rid in enumerate(idx.req_ids)}
    out = {}
    for a in plan.assignments:
        r = pos[a.request]
        k = next(k for k, o in enumerate(idx.options[r])
                 if idx.cluster_ids[o.cluster] == a.cluster and idx.pool_type[o.pool] == a.gpu_type)
        out[r] = Placement(k, a.start_slot)
    return out


def exact(ctx: Context, hint: dict[int, Placement], seconds: float, workers: int,
          selected: np.ndarray) -> tuple[float, float | None, str]:
    """Best value and proven bound of the interval model after ``seconds`` of CP-SAT (no bound if restricted)."""
    idx = ctx.index
    if not np.allclose(np.round(idx.merit * 1000), idx.merit * 1000):
        raise SystemExit("merits with more than 3 decimals: the model's objective would round them")
    whole = idx.n <= WHOLE_LIMIT
    keep = ctx.alone if whole else ctx.alone & (selected > 1e-6)
    cands = [Candidate(int(r), hint.get(int(r))) for r in sorted(set(np.flatnonzero(keep).tolist()) | set(hint))]
    nm = NeighbourhoodModel(ctx, PlacementBook(idx), tuple(range(len(idx.cluster_ids))), 0, idx.slots, cands, None)
    weight = [round(1000 * idx.merit[v.request]) * round(idx.work[v.request] / idx.slot_hours) for v in nm.vars]
    nm.model.maximize(cp_model.LinearExpr.weighted_sum([v.present for v in nm.vars], weight))  # 1000 × value
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.linearization_level = 2
    status = solver.solve(nm.model)
    scale = idx.slot_hours / 1000
    best = solver.objective_value * scale if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else 0.0
    return best, solver.best_objective_bound * scale if whole else None, solver.status_name(status)


def measure(size: str, seconds: float, workers: int) -> Row:
    problem = instance(size)
    idx = compile_problem(problem)
    ctx = Context.build(idx, fits_alone(idx))
    t = time.perf_counter()
    interval = relax(ctx, t + 600, time.perf_counter, (INTERVAL,)).bound
    interval_s = time.perf_counter() - t
    t = time.perf_counter()
    relaxation = relax(ctx, t + 600, time.perf_counter)
    bound_s = time.perf_counter() - t
    plan = solve(problem, "value", SolveParams(time_limit_s=PLAN_BUDGET[size], workers=1, seed=0))
    t = time.perf_counter()
    cp_best, cp_bound, status = exact(ctx, placements(ctx, plan), seconds, workers, relaxation.selected)
    shape = f"{len(problem.requests):,} × {len(problem.clusters)} × {problem.horizon.slots}"
    return Row(size, shape, interval, interval_s, relaxation.bound, bound_s, plan.metrics.value, cp_best, cp_bound,
               status, time.perf_counter() - t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="T,S,M")
    parser.add_argument("--seconds", type=float, default=300.0, help="CP-SAT time per instance")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(HEAD)
    print("|" + "---|" * (HEAD.count("|") - 1))
    for size in args.sizes.split(","):
        print(f"{size}: CP-SAT for {args.seconds:g} s with {args.workers} workers ...", file=sys.stderr, flush=True)
        print(measure(size, args.seconds, args.workers).line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
