"""Pure steps of a round: the problem a snapshot makes, and how two plans differ.

A round's problem is built from a snapshot of the store (step 1 of ``run_round``):

- clusters: every ``active`` cluster, seen through the round's horizon
  (:meth:`ClusterRecord.to_cluster`: withdrawals as slot windows, the carbon
  forecast averaged per slot); ``stale`` and ``retired`` ones are left out;
- GPU types: the union of the clusters' types.  Two clusters that give one type
  different board powers get the larger (energy and power checks stay safe), and a
  type only requests name gets a placeholder so the solver rejects it with
  ``no_eligible_cluster`` instead of refusing the whole problem;
- requests: every ``submitted`` request, its hours and dates turned into this
  round's slots (:func:`scheduler.windows.through`: runtime rounded up, the window
  shrunk to whole slots inside the horizon); one whose window lies outside the
  horizon, or shrinks below its runtime, stays in the pool for a later round, and
  ``left_out`` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scheduler.domain import ClusterRecord, RequestRecord, RoundRecord
from scheduler.windows import Waiting, through
from solver.plan import Plan
from solver.problem import GpuType, Problem

PLACEHOLDER_TDP_W = 1.0  # a type no cluster offers: never assigned, so its power is never used


@dataclass(frozen=True)
class Snapshot:
    problem: Problem
    left_out: dict[str, str] = field(default_factory=dict)  # request id -> why it waits (``waits: ...``)


def build_problem(round: RoundRecord, clusters: Iterable[ClusterRecord], requests: Iterable[RequestRecord]) -> Snapshot:
    h = round.horizon
    chosen = sorted(clusters, key=lambda c: c.id)
    gpu_types: dict[str, GpuType] = {}
    for c in chosen:
        for g, t in c.gpu_types.items():
            known = gpu_types.get(g)
            if known is None or t.tdp_watts > known.tdp_watts:
                gpu_types[g] = t
    taken, left_out = [], {}
    for r in sorted(requests, key=lambda q: q.id):
        req = through(r, r.id, h)
        if isinstance(req, Waiting):
            left_out[r.id] = req.reason
            continue
        for g in req.runtime_slots:
            gpu_types.setdefault(g, GpuType(tdp_watts=PLACEHOLDER_TDP_W))
        taken.append(req)
    problem = Problem(
        horizon=h,
        gpu_types=dict(sorted(gpu_types.items())),
        clusters=[c.to_cluster(h) for c in chosen],
        requests=taken,
        policy=round.policy,
    )
    return Snapshot(problem, left_out)


@dataclass(frozen=True)
class Difference:
    request: str
    before: str
    after: str


def outcome(plan: Plan) -> dict[str, str]:
    """Each request's fate in one line: ``cluster/type@start-end`` or ``rejected: reason``."""
    out = {a.request: f"{a.cluster}/{a.gpu_type}@{a.start_slot}-{a.end_slot}" for a in plan.assignments}
    out |= {r.request: f"rejected: {r.reason}" for r in plan.rejected}
    return out


def differences(before: Plan, after: Plan) -> list[Difference]:
    a, b = outcome(before), outcome(after)
    return [
        Difference(rid, a.get(rid, "absent"), b.get(rid, "absent"))
        for rid in sorted(a.keys() | b.keys())
        if a.get(rid) != b.get(rid)
    ]


def placements(assignments: Sequence[tuple[str, str, str, int]]) -> dict[str, tuple[str, str, int]]:
    """``(request, cluster, type, start)`` rows as the mapping :func:`solver.counterfactuals.counterfactual` takes."""
    return {rid: (cluster, gpu_type, start) for rid, cluster, gpu_type, start in assignments}
