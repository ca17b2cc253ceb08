"""The CP-SAT interval model of one neighbourhood (clusters C, window [a, b)).

Data: candidates R (requests), their options K_r on the clusters in C,
the placement book's residual free GPUs F_p(t) per pool and power P_c(t), budgets left.

Variables, for r ∈ R and k ∈ K_r:
    x_rk ∈ {0, 1}                          the request runs on option k
    s_rk ∈ [max(e_r, a), min(d_r, b) − ρ_rk]   its start (ρ_rk: runtime on k's type)
    I_rk = optional interval [s_rk, s_rk + ρ_rk) present iff x_rk

Constraints, one helper each:
    add_choice      Σ_k x_rk ≤ 1                                           (rule 1)
    add_capacity    cumulative per pool p: Σ gpus_r over I_rk ≤ F_p(t)      (rule 5)
    add_power       cumulative per c ∈ C: Σ power_rk over I_rk ≤ P_c(t)     (rule 6)
    add_budgets     Σ energy_rk x_rk ≤ E_left;  Σ co2_rk(s_rk)·x_rk ≤ C_left;
                    Σ_{r∈o} gpu_slots_rk x_rk ≤ O_left(o)                   (rules 7–9)
    add_fairness    W_c + short_c ≥ (1 − ε)·fair_c, linear in x (see solver.policies.fair)
Objective:  maximise  Σ (round(1000·merit_r)·work_r − y_E·energy_rk)·x_rk − P·Σ short_c,
with y_E the LP's dual price of the energy budget (zero when it does not bind): a
neighbourhood then leaves energy to the rest of the plan unless it earns its price.
The search sets y_E = 0 for every other neighbourhood and for the whole-problem
model, where the budget constraint itself is exact.

A time-varying capacity enters a cumulative as fixed intervals that occupy the
difference to the window's maximum.  Rules 2–4 hold by construction of K_r and
the start domains.  Floats are rounded against the plan (demands up, capacities
down), and the caller re-checks every placement with the book.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from solver.metrics import fair_shares
from solver.params import SolveParams
from solver.placements import Placement, PlacementBook
from solver.policies import Context

SHARE_SCALE = 1000
ROUNDING = 1e-3  # in Wh, W or g: far below the placement book's 1e-6 kWh slack, far above float noise
SHORT_PENALTY_UNCAPPED = 1  # its shortfall is in units of SHARE_SCALE² work
SHORT_PENALTY_CAPPED = 10 * SHARE_SCALE  # its shortfall is in units of work


@dataclass(frozen=True)
class Candidate:
    request: int
    current: Placement | None


@dataclass(frozen=True)
class Var:
    request: int
    option: int
    present: cp_model.IntVar
    start: cp_model.IntVar
    interval: cp_model.IntervalVar
    first: int  # the start's domain is [first, last]
    last: int


class NeighbourhoodModel:
    def __init__(
        self,
        ctx: Context,
        book: PlacementBook,
        clusters: tuple[int, ...],
        start: int,
        end: int,
        candidates: list[Candidate],
        fairness_floor: float | None,
        energy_price: float = 0.0,
    ) -> None:
        self.ctx, self.book, self.clusters, self.a, self.b = ctx, book, clusters, start, end
        self.model = cp_model.CpModel()
        self.vars: list[Var] = []
        self.current_work = ctx.work_by_category(book) / ctx.index.slot_hours
        for cand in candidates:
            self._add_request(cand)
            if cand.current is not None:
                self.current_work[ctx.index.category[cand.request]] += self._work(cand.request)
        self.add_choice()
        self.add_capacity()
        self.add_power()
        self.add_budgets()
        value = cp_model.LinearExpr.weighted_sum(
            [v.present for v in self.vars], [self._weight(v, energy_price) for v in self.vars]
        )
        if fairness_floor is not None:
            value -= self.add_fairness(fairness_floor)
        self.model.maximize(value)

    def _weight(self, v: Var, energy_price: float) -> int:
        """Value of running v, less the LP's price of the energy it takes from the rest of the plan."""
        idx = self.ctx.index
        value = round(1000 * idx.merit[v.request]) * self._work(v.request)
        energy = energy_price * idx.options[v.request][v.option].energy_kwh * 1000 / idx.slot_hours
        return int(value - round(energy))

    def _work(self, r: int) -> int:
        idx = self.ctx.index
        return int(idx.gpus[r]) * min(o.runtime for o in idx.options[r])

    def _add_request(self, cand: Candidate) -> None:
        idx, m, r = self.ctx.index, self.model, cand.request
        for k, o in enumerate(idx.options[r]):
            if o.cluster not in self.clusters:
                continue
            lo = max(int(idx.earliest[r]), self.a)
            hi = min(int(idx.deadline[r]), self.b) - o.runtime
            if hi < lo:
                continue
            present = m.new_bool_var(f"x[{idx.req_ids[r]},{idx.pool_type[o.pool]}]")
            s = m.new_int_var(lo, hi, f"s[{idx.req_ids[r]},{idx.pool_type[o.pool]}]")
            interval = m.new_optional_fixed_size_interval_var(s, o.runtime, present, f"I[{idx.req_ids[r]}]")
            self.vars.append(Var(r, k, present, s, interval, lo, hi))
            hinted = cand.current is not None and cand.current.option == k
            m.add_hint(present, hinted)
            m.add_hint(s, cand.current.start if hinted and cand.current is not None else lo)

    def add_choice(self) -> None:
        by_request: dict[int, list[cp_model.IntVar]] = {}
        for v in self.vars:
            by_request.setdefault(v.request, []).append(v.present)
        for lits in by_request.values():
            if len(lits) > 1:
                self.model.add_at_most_one(lits)

    def _cumulative(self, vars_: list[Var], demands: list[int], free: np.ndarray, name: str) -> None:
        """Cumulative over [a, b) with a per-slot capacity ``free`` (length b − a)."""
        if not vars_:
            return
        cap = int(free.max())
        if cap <= 0:
            for v in vars_:
                self.model.add(v.present == 0)
            return
        intervals = [v.interval for v in vars_]
        demand_list = list(demands)
        t = 0
        while t < len(free):
            gap = cap - int(free[t])
            u = t
            while u < len(free) and cap - int(free[u]) == gap:
                u += 1
            if gap > 0:
                intervals.append(self.model.new_fixed_size_interval_var(self.a + t, u - t, f"{name}-busy{t}"))
                demand_list.append(gap)
            t = u
        self.model.add_cumulative(intervals, demand_list, cap)

    def add_capacity(self) -> None:
        idx = self.ctx.index
        by_pool: dict[int, list[Var]] = {}
        for v in self.vars:
            by_pool.setdefault(idx.options[v.request][v.option].pool, []).append(v)
        for p, vs in sorted(by_pool.items()):
            self._cumulative(vs, [int(idx.gpus[v.request]) for v in vs], self.book.free[p, self.a : self.b],
                             f"pool{p}")

    def add_power(self) -> None:
        idx = self.ctx.index
        for c in self.clusters:
            if not np.isfinite(idx.power_cap_w[c]):
                continue
            free = np.floor(self.book.power[c, self.a : self.b] + ROUNDING).astype(np.int64)
            vs = [v for v in self.vars if idx.options[v.request][v.option].cluster == c]
            demands = [_up(idx.options[v.request][v.option].power_w) for v in vs]
            self._cumulative(vs, demands, np.maximum(free, 0), f"power{c}")

    def add_budgets(self) -> None:
        idx, m, book = self.ctx.index, self.model, self.book
        if np.isfinite(book.energy_left):
            wh = [_up(idx.options[v.request][v.option].energy_kwh * 1000) for v in self.vars]
            m.add(sum(w * v.present for w, v in zip(wh, self.vars, strict=True)) <= _down(book.energy_left * 1000))
        if np.isfinite(book.carbon_left):
            terms = []
            for v in self.vars:
                o = idx.options[v.request][v.option]
                table = [_up(g) for g in idx.co2_by_start(o, np.arange(v.first, v.last + 1))]
                co2 = m.new_int_var(0, max(table), "co2")
                used = m.new_int_var(0, max(table), "co2used")
                m.add_element(v.start - v.first, table, co2)
                m.add(used >= co2).only_enforce_if(v.present)
                terms.append(used)
            m.add(sum(terms) <= _down(book.carbon_left))
        if np.isfinite(idx.org_cap_gpu_hours):
            by_org: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
            for v in self.vars:
                o = idx.options[v.request][v.option]
                by_org.setdefault(int(idx.org[v.request]), []).append((int(idx.gpus[v.request]) * o.runtime, v.present))
            for org, items in by_org.items():
                left = math.floor(book.org_left[org] / idx.slot_hours + 1e-6)
                m.add(sum(c * x for c, x in items) <= left)

    def add_fairness(self, floor: float) -> cp_model.LinearExpr:
        """Shortfall below ``floor`` × fair share per category, linear for the current cap pattern."""
        ctx, idx, m = self.ctx, self.ctx.index, self.model
        fixed = ctx.work_by_category(self.book) / idx.slot_hours  # in GPU-slots, without the candidates
        demand = ctx.demand / idx.slot_hours
        fair = fair_shares(idx, self.current_work, demand)
        counted = sorted(fair)
        if not counted:
            return cp_model.LinearExpr.sum([])
        work = {c: round(fixed[c]) + sum(
            self._work(v.request) * v.present for v in self.vars if idx.category[v.request] == c) for c in counted}
        capped = [c for c in counted if fair[c] >= demand[c] - 1e-6]
        uncapped = [c for c in counted if c not in capped]
        share = {c: round(SHARE_SCALE * idx.share[c]) for c in counted}
        total_u = sum(share[c] for c in uncapped)
        capped_demand = round(sum(demand[c] for c in capped))
        pool = sum(work[c] for c in counted) - capped_demand
        floor_k = round(SHARE_SCALE * floor)
        penalty: list[cp_model.LinearExpr] = []
        for c in capped:
            short = m.new_int_var(0, int(demand[c]) + 1, f"short[{idx.categories[c]}]")
            m.add(SHARE_SCALE * work[c] + SHARE_SCALE * short >= floor_k * int(demand[c]))
            penalty.append(SHORT_PENALTY_CAPPED * short)
        for c in uncapped:
            ub = int(SHARE_SCALE * total_u * (sum(demand) + 1))
            short = m.new_int_var(0, ub, f"short[{idx.categories[c]}]")
            m.add(SHARE_SCALE * total_u * work[c] + short >= floor_k * share[c] * pool)
            penalty.append(SHORT_PENALTY_UNCAPPED * short)
        return cp_model.LinearExpr.sum(penalty)

    def solve(self, params: SolveParams, seconds: float, seed: int) -> dict[int, Placement] | None:
        if not self.vars:
            return None
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = params.workers
        solver.parameters.random_seed = seed % (2**31)
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        if params.deterministic:
            solver.parameters.max_deterministic_time = params.neighbourhood_dtime
        status = solver.solve(self.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        return {
            v.request: Placement(v.option, int(solver.value(v.start))) for v in self.vars if solver.value(v.present)
        }


def _up(x: float) -> int:
    """A demand in whole units, rounded up unless float noise put it just above an integer."""
    return math.ceil(x - ROUNDING)


def _down(x: float) -> int:
    """A capacity in whole units, rounded down unless float noise put it just below an integer."""
    return math.floor(x + ROUNDING)
