"""A problem compiled to arrays, built once per solve over sorted keys.

Pools are (cluster, GPU type) pairs.  Each request gets its *options*: the pools
that rules 2 and 3 allow (acceptable type present, cluster in an allowed
country), each with the runtime on that type.  Everything the greedy, the
neighbourhood model and the LP bound need is precomputed here: per-slot free
GPUs, per-slot power headroom, energy per option and carbon per start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.problem import Problem, available

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Budgets and power caps are compared with this slack, in their own units, so that
# sums of floats that equal the cap on paper are not rejected for rounding noise.
EPS = 1e-6


@dataclass(frozen=True)
class Option:
    pool: int
    cluster: int
    runtime: int
    energy_kwh: float
    power_w: float
    gpu_hours: float


@dataclass
class Index:
    problem: Problem
    slots: int
    slot_hours: float
    cluster_ids: list[str]
    countries: list[str]
    pool_cluster: IntArray
    pool_type: list[str]
    pool_cap: IntArray  # (pools, slots) GPUs usable per slot
    power_cap_w: FloatArray  # (clusters,) inf where uncapped
    pue: FloatArray
    intensity_cum: FloatArray  # (clusters, slots + 1) prefix sums of gCO2e/kWh
    categories: list[str]
    orgs: list[str]
    req_ids: list[str]
    gpus: IntArray
    earliest: IntArray
    deadline: IntArray
    merit: FloatArray
    work: FloatArray
    org: IntArray
    category: IntArray
    options: list[list[Option]]
    share: FloatArray  # (categories,) 0 where the policy names none
    org_cap_gpu_hours: float
    energy_budget_kwh: float
    carbon_budget_g: float
    pins: dict[int, tuple[int, int]]  # request -> (option, start) the plan must keep
    # per request, its options grouped by GPU type (``solver.placements.type_groups``), filled as books ask
    type_groups: dict[int, list[Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.req_ids)

    @cached_property
    def kwh_per_work(self) -> FloatArray:
        """Per request, the most energy any of its options takes per unit of work (0 without options)."""
        return np.array([max((o.energy_kwh for o in opts), default=0.0) for opts in self.options]) / self.work

    @cached_property
    def gpu_hours_per_work(self) -> FloatArray:
        """Per request, the most GPU-hours any of its options runs per unit of work (0 without options)."""
        return np.array([max((o.gpu_hours for o in opts), default=0.0) for opts in self.options]) / self.work

    def co2_g(self, opt: Option, start: int) -> float:
        """Grams CO2e of a job on ``opt`` starting at ``start``."""
        c = opt.cluster
        cum = self.intensity_cum[c]
        return opt.energy_kwh / opt.runtime * float(cum[start + opt.runtime] - cum[start])

    def co2_by_start(self, opt: Option, starts: IntArray) -> FloatArray:
        cum = self.intensity_cum[opt.cluster]
        out: FloatArray = opt.energy_kwh / opt.runtime * (cum[starts + opt.runtime] - cum[starts])
        return out


def compile_problem(problem: Problem) -> Index:
    h = problem.horizon
    slots = h.slots
    clusters = sorted(problem.clusters, key=lambda c: c.id)
    pool_cluster: list[int] = []
    pool_type: list[str] = []
    caps: list[list[int]] = []
    pools_of: dict[tuple[int, str], int] = {}
    for ci, c in enumerate(clusters):
        for g in sorted(c.gpus):
            if c.gpus[g] <= 0:
                continue
            pools_of[(ci, g)] = len(pool_cluster)
            pool_cluster.append(ci)
            pool_type.append(g)
            caps.append(available(c, g, slots))
    intensity = np.zeros((len(clusters), slots + 1))
    for ci, c in enumerate(clusters):
        per_slot = np.array([c.intensity(t) for t in range(slots)], dtype=np.float64)
        intensity[ci, 1:] = np.cumsum(per_slot)
    pue = np.array([c.pue for c in clusters], dtype=np.float64)

    categories = sorted({r.category for r in problem.requests} | set(problem.policy.category_shares))
    orgs = sorted({r.org for r in problem.requests})
    cat_pos = {c: i for i, c in enumerate(categories)}
    org_pos = {o: i for i, o in enumerate(orgs)}
    requests = sorted(problem.requests, key=lambda r: r.id)
    pools_of_type: dict[str, list[tuple[int, int]]] = {}  # type -> (cluster, pool), by cluster
    for (ci, g), p in sorted(pools_of.items()):
        pools_of_type.setdefault(g, []).append((ci, p))
    made: dict[tuple[int, int, int], Option] = {}  # (pool, runtime, gpus): the same option for every such request
    options: list[list[Option]] = []
    for r in requests:
        allowed = set(r.countries) if r.countries is not None else None
        where = sorted((ci, g, p) for g in r.runtime_slots for ci, p in pools_of_type.get(g, ())
                       if allowed is None or clusters[ci].country in allowed)
        opts: list[Option] = []
        for ci, g, p in where:
            rt = r.runtime_slots[g]
            o = made.get((p, rt, r.gpus))
            if o is None:
                power_w = r.gpus * problem.gpu_types[g].tdp_watts
                energy = power_w / 1000.0 * h.slot_hours * rt * clusters[ci].pue
                o = made[(p, rt, r.gpus)] = Option(p, ci, rt, energy, power_w, r.gpus * rt * h.slot_hours)
            opts.append(o)
        options.append(opts)

    pol = problem.policy
    req_pos = {r.id: i for i, r in enumerate(requests)}
    pins: dict[int, tuple[int, int]] = {}
    for pin in problem.pins:
        i = req_pos[pin.request]
        k = next(k for k, o in enumerate(options[i])
                 if clusters[o.cluster].id == pin.cluster and pool_type[o.pool] == pin.gpu_type)
        pins[i] = (k, pin.start_slot)
    return Index(
        problem=problem,
        slots=slots,
        slot_hours=h.slot_hours,
        cluster_ids=[c.id for c in clusters],
        countries=[c.country for c in clusters],
        pool_cluster=np.array(pool_cluster, dtype=np.int64),
        pool_type=pool_type,
        pool_cap=np.array(caps, dtype=np.int64).reshape(len(pool_cluster), slots),
        power_cap_w=np.array(
            [np.inf if c.power_cap_kw is None else c.power_cap_kw * 1000.0 for c in clusters], dtype=np.float64
        ),
        pue=pue,
        intensity_cum=intensity,
        categories=categories,
        orgs=orgs,
        req_ids=[r.id for r in requests],
        gpus=np.array([r.gpus for r in requests], dtype=np.int64),
        earliest=np.array([r.earliest_slot for r in requests], dtype=np.int64),
        deadline=np.array([problem.deadline(r) for r in requests], dtype=np.int64),
        merit=np.array([r.merit for r in requests], dtype=np.float64),
        work=np.array([problem.work(r) for r in requests], dtype=np.float64),
        org=np.array([org_pos[r.org] for r in requests], dtype=np.int64),
        category=np.array([cat_pos[r.category] for r in requests], dtype=np.int64),
        options=options,
        share=np.array([pol.category_shares.get(c, 0.0) for c in categories], dtype=np.float64),
        org_cap_gpu_hours=np.inf if pol.org_cap_share is None else pol.org_cap_share * problem.gpu_hour_capacity(),
        energy_budget_kwh=np.inf if pol.energy_budget_mwh is None else pol.energy_budget_mwh * 1000.0,
        carbon_budget_g=np.inf if pol.carbon_budget_t is None else pol.carbon_budget_t * 1e6,
        pins=pins,
    )
