"""Domain -> proto: records, plans and ledger entries as the wire contract spells them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

from scheduler import ledger as public
from scheduler.accounting import Figures
from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import execution_pb2 as execution_pb
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inventory
from scheduler.api.gen.allmende.v1 import ledger_pb2 as ledger
from scheduler.api.gen.allmende.v1 import requests_pb2 as requests
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rounds
from scheduler.domain import (
    DEPRECATED_SLOTS,
    AllocationRecord,
    AuditEntry,
    ClusterRecord,
    Inventory,
    RequestRecord,
    RequestSpec,
    RoundRecord,
    Usage,
)
from scheduler.service import ExecutionRow, Explanation, Replay, RoundRun
from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from scheduler.windows import slot_time
from solver import policies
from solver.params import SolveParams
from solver.plan import Counterfactual, Metrics
from solver.problem import Horizon, PolicyConfig

OBJECTIVES: dict[str, rounds.Policy] = {n: getattr(rounds, f"POLICY_{n.upper()}") for n in policies.NAMES}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts(when: datetime | None) -> Timestamp | None:
    """``Timestamp.FromDatetime`` in integer arithmetic: the pure-Python original is the slowest step
    of answering a submission."""
    if when is None:
        return None
    delta = when - EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def cluster_state(state: ClusterState) -> str:
    return f"CLUSTER_STATE_{state.name}"


def request_state(state: RequestState) -> str:
    return f"REQUEST_STATE_{state.name}"


def round_state(state: RoundState) -> str:
    return f"ROUND_STATE_{state.name}"


def allocation_state(state: AllocationState) -> str:
    return f"ALLOCATION_STATE_{state.name}"


# -- inventory ----------------------------------------------------------------------------------------


def cluster(rec: ClusterRecord) -> inventory.Cluster:
    out = inventory.Cluster(
        cluster_id=rec.id,
        operator=rec.operator,
        country=rec.country,
        gpus=[
            inventory.GpuPool(gpu_type=g, count=rec.gpus.get(g, 0), tdp_watts=t.tdp_watts, memory_gb=t.memory_gb or 0.0)
            for g, t in sorted(rec.gpu_types.items())
        ],
        pue=rec.pue,
        state=cluster_state(rec.state),
        registered_at=ts(rec.registered_at),
        last_heartbeat=ts(rec.last_heartbeat),
        inventory=_inventory(Inventory(gpus=rec.gpus, unavailable=rec.unavailable, carbon=rec.carbon,
                                       gpu_power_w=rec.gpu_power_w)),
        version=rec.version,
        execution=execution_target(rec),
    )
    if rec.power_cap_kw is not None:
        out.power_cap_kw = rec.power_cap_kw
    return out


EXECUTION_KINDS = {"ray": inventory.EXECUTION_KIND_RAY, "kuberay": inventory.EXECUTION_KIND_KUBERAY}


def execution_target(rec: ClusterRecord) -> inventory.ExecutionTarget | None:
    """Where the cluster runs its allocations; absent until an operator sets it."""
    t = rec.execution
    if t is None:
        return None
    return inventory.ExecutionTarget(kind=EXECUTION_KINDS[t.kind], address=t.address, context=t.context,
                                     namespace=t.namespace)


def _inventory(inv: Inventory) -> inventory.Inventory:
    out = inventory.Inventory(
        gpus=inv.gpus,
        withdrawn=[
            inventory.WithdrawnWindow(gpu_type=w.gpu_type, gpus=w.gpus, start=ts(w.start), end=ts(w.end))
            for w in inv.unavailable
        ],
        gpu_power_w=inv.gpu_power_w,
    )
    if inv.carbon is not None:
        out.carbon.CopyFrom(inventory.CarbonForecast(
            start=ts(inv.carbon.start), step_minutes=inv.carbon.step_minutes, g_per_kwh=inv.carbon.values
        ))
    return out


# -- requests -----------------------------------------------------------------------------------------


def request(rec: RequestRecord) -> requests.AllocationRequest:
    """The record as the API shows it; one in the deprecated slot fields shows those, with a note saying so."""
    form = RequestSpec.LEGACY_FIELDS if rec.in_slots else ("runtime_hours",)
    spec = requests.RequestSpec(title=rec.title, entrypoint=rec.entrypoint, earliest=ts(rec.earliest),
                                deadline=ts(rec.deadline), **_present(rec, (*RequestSpec.SHARED_FIELDS, *form)))
    if rec.runtime_env:
        json_format.ParseDict(rec.runtime_env, spec.runtime_env)
    return requests.AllocationRequest(
        request_id=rec.id,
        spec=spec,
        state=request_state(rec.state),
        round_id=rec.round_id or "",
        idempotency_key=rec.idempotency_key or "",
        submitted_at=ts(rec.submitted_at),
        updated_at=ts(rec.updated_at),
        version=rec.version,
        waiting=rec.waiting if rec.state == RequestState.SUBMITTED else "",
        notes=[DEPRECATED_SLOTS] if rec.in_slots else [],
    )


# -- rounds and plans ---------------------------------------------------------------------------------


def horizon(h: Horizon) -> common.Horizon:
    return common.Horizon(start=ts(h.start), slot_minutes=h.slot_minutes, slots=h.slots)


def policy_config(p: PolicyConfig) -> common.PolicyConfig:
    return common.PolicyConfig(**_present(p, PolicyConfig.model_fields))


def _present(model: BaseModel, names: Iterable[str]) -> dict[str, Any]:
    """The named fields that hold a value, as message constructor arguments: ``None`` leaves a field unset."""
    return {name: value for name in names if (value := getattr(model, name)) is not None}


def solver_params(p: SolveParams) -> common.SolverParams:
    return common.SolverParams(time_limit_s=p.time_limit_s, workers=p.workers, seed=p.seed,
                               deterministic=p.deterministic)


def progress(rec: RoundRecord, run: RoundRun | None) -> rounds.RoundProgress:
    if run is not None and not run.done.is_set():
        return live_progress(run)
    if rec.state == RoundState.SOLVING:  # solving on another worker of this server: its last stored report
        return rounds.RoundProgress(round_id=rec.id, state=round_state(rec.state), phase="solve",
                                    fraction=rec.progress, message=rec.progress_message)
    return rounds.RoundProgress(round_id=rec.id, state=round_state(rec.state), phase=rec.progress_message,
                                fraction=rec.progress, message=rec.error or "")


def live_progress(run: RoundRun) -> rounds.RoundProgress:
    """A solve this process runs, with the solver's latest report."""
    out = rounds.RoundProgress(round_id=run.round_id, state=round_state(RoundState.SOLVING), phase=run.phase,
                               fraction=run.fraction, elapsed_s=run.elapsed_s, message=run.message)
    if run.solver is not None:
        out.value, out.assigned, out.solver_phase = run.solver.value, run.solver.assigned, run.solver.phase
        if run.solver.bound is not None:
            out.bound = run.solver.bound
    return out


def round(rec: RoundRecord, allocations: Iterable[AllocationRecord] = (), run: RoundRun | None = None) -> rounds.Round:
    out = rounds.Round(
        round_id=rec.id,
        state=round_state(rec.state),
        horizon=horizon(rec.horizon),
        policy=OBJECTIVES.get(rec.objective, rounds.POLICY_UNSPECIFIED),
        policy_config=policy_config(rec.policy),
        solver=solver_params(rec.params),
        progress=progress(rec, run),
        opened_at=ts(rec.created_at),
        ortools_version=rec.ortools_version or "",
        requests=len(rec.problem.requests) if rec.problem else 0,
        clusters=len(rec.problem.clusters) if rec.problem else 0,
        flagged_requests=sorted({a.request_id for a in allocations if a.flagged_stale}),
        version=rec.version,
        error=rec.error or "",
    )
    if rec.plan is not None:
        out.metrics.CopyFrom(metrics(rec.plan.metrics))
        out.solved_at.CopyFrom(ts(rec.updated_at))
    return out


def metrics(m: Metrics) -> rounds.PlanMetrics:
    return rounds.PlanMetrics(
        gpu_hours=m.gpu_hours, work=m.work, value=m.value, min_attainment=m.min_attainment, jain=m.jain,
        energy_mwh=m.energy_mwh, co2_t=m.co2_t, assigned=m.assigned, rejected=m.rejected,
        categories={k: rounds.CategoryMetrics(**c.model_dump()) for k, c in m.categories.items()},
        utilisation=m.utilisation, wasted=m.wasted, justified_complaints=m.justified_complaints,
        level_spread=None if m.level_spread is None else rounds.LevelSpread(**m.level_spread.model_dump()),
        held_back=m.held_back,
    )


def assignment(a: AllocationRecord, h: Horizon) -> rounds.Assignment:
    """One allocation, its slots beside the instants they stand for in the round's horizon."""
    return rounds.Assignment(
        request_id=a.request_id, cluster_id=a.cluster, gpu_type=a.gpu_type, start_slot=a.start_slot,
        end_slot=a.end_slot, energy_kwh=a.energy_kwh, co2_kg=a.co2_kg, state=allocation_state(a.state),
        flagged_stale=a.flagged_stale, allocation_id=a.id, start=ts(slot_time(h, a.start_slot)),
        end=ts(slot_time(h, a.end_slot)),
    )


def plan(rec: RoundRecord, allocations: Iterable[AllocationRecord]) -> rounds.Plan:
    out = rounds.Plan(round_id=rec.id)
    shown = sorted((a for a in allocations if a.state != AllocationState.SUPERSEDED), key=lambda a: a.request_id)
    out.assignments.extend(assignment(a, rec.horizon) for a in shown)
    if rec.plan is not None:
        out.rejections.extend(
            rounds.Rejection(request_id=r.request, reason=r.reason, detail=r.detail,
                             counterfactual=counterfactual(r.counterfactual))
            for r in rec.plan.rejected
        )
        out.metrics.CopyFrom(metrics(rec.plan.metrics))
        s = rec.plan.solver
        out.solver.CopyFrom(rounds.SolverInfo(status=s.status, policy=s.policy, objective=s.objective,
                                              bound=min(s.bound, 1e300), wall_seconds=s.wall_seconds))
    return out


def counterfactual(cf: Counterfactual | None) -> rounds.Counterfactual | None:
    if cf is None:
        return None
    out = rounds.Counterfactual(change=cf.change, text=cf.text)
    if isinstance(cf.value, int):
        out.number = cf.value
    elif isinstance(cf.value, list):
        out.countries.values.extend(cf.value)
    else:
        out.runtime_slots.runtime_slots.update(cf.value)
    return out


def explanation(e: Explanation) -> rounds.Explanation:
    out = rounds.Explanation(round_id=e.round_id, request_id=e.request_id, assigned=e.assignment is not None,
                             reason=e.reason, detail=e.detail, counterfactual=counterfactual(e.counterfactual))
    if e.assignment is not None:
        out.assignment.CopyFrom(assignment(e.assignment, e.horizon))
    return out


def replay(r: Replay) -> rounds.ReplayRoundResponse:
    return rounds.ReplayRoundResponse(
        round_id=r.round_id,
        identical=not r.differences,
        differences=[rounds.AssignmentDiff(request_id=d.request, before=d.before, after=d.after)
                     for d in r.differences],
        stored=metrics(r.stored.metrics),
        replayed=metrics(r.replayed.metrics),
        stored_ortools_version=r.stored_ortools_version,
        current_ortools_version=r.current_ortools_version,
    )


# -- audit and ledger ---------------------------------------------------------------------------------


def audit_event(e: AuditEntry) -> common.AuditEvent:
    kind, _, ident = e.subject.partition("/")
    detail = "" if e.before is None and e.after is None else f"{e.before or '-'} -> {e.after or '-'}"
    return common.AuditEvent(seq=e.seq, at=ts(e.at), actor=e.actor, role=e.role.value, action=e.action,
                             subject_kind=kind, subject_id=ident, reason=e.reason, detail_json=detail)


def ledger_entry(e: public.LedgerEntry, with_allocations: bool = True) -> ledger.LedgerEntry:
    out = ledger.LedgerEntry(
        round_id=e.round_id,
        published_at=ts(e.published_at),
        horizon=horizon(e.horizon),
        policy=OBJECTIVES.get(e.objective, rounds.POLICY_UNSPECIFIED),
        by_category={k: ledger.Share(**vars(v)) for k, v in e.by_category.items()},
        by_org={k: ledger.Share(**vars(v)) for k, v in e.by_org.items()},
        energy_mwh=e.energy_mwh,
        co2_t=e.co2_t,
        rejections_by_reason=e.rejections_by_reason,
        min_attainment=e.min_attainment,
        jain=e.jain,
        accounts=accounts(e.accounts),
        accounts_by_category={k: accounts(v) for k, v in e.accounts_by_category.items()},
        accounts_by_org={k: accounts(v) for k, v in e.accounts_by_org.items()},
    )
    if with_allocations:
        out.allocations.extend(
            ledger.PublicAllocation(
                request_id=a.request_id, title=a.title, org=a.org, category=a.category, cluster_id=a.cluster,
                gpu_type=a.gpu_type, gpus=a.gpus, start_slot=a.start_slot, end_slot=a.end_slot,
                energy_kwh=a.energy_kwh, co2_kg=a.co2_kg, allocation_id=a.allocation_id,
                state=allocation_state(AllocationState(a.state)), actual=usage(a.actual),
            )
            for a in e.allocations
        )
    return out


def usage(u: Usage | None) -> ledger.Usage | None:
    if u is None:
        return None
    return ledger.Usage(started_at=ts(u.started_at), ended_at=ts(u.ended_at), gpu_hours=u.gpu_hours,
                        energy_kwh=u.energy_kwh, energy_source=u.energy_source, co2_kg=u.co2_kg,
                        sci_g_per_gpu_hour=u.sci_g_per_gpu_hour)


def figures(f: Figures) -> ledger.Figures:
    return ledger.Figures(items=f.items, gpu_hours=f.gpu_hours, energy_kwh=f.energy_kwh, co2_kg=f.co2_known,
                          co2_unknown=f.co2_unknown)


def accounts(a: public.Accounts) -> ledger.Accounts:
    return ledger.Accounts(planned=figures(a.planned), actual=figures(a.actual), sci_planned=a.sci_planned,
                           sci_actual=a.sci_actual)


# -- execution ----------------------------------------------------------------------------------------


def execution(row: ExecutionRow) -> execution_pb.Execution:
    a = row.allocation
    out = execution_pb.Execution(
        allocation_id=a.id, round_id=a.round_id, request_id=a.request_id, org=row.org, cluster_id=a.cluster,
        gpu_type=a.gpu_type, gpus=row.gpus, state=allocation_state(a.state), window_start=ts(row.start),
        window_end=ts(row.end), actual=usage(a.usage),
    )
    run = a.execution
    if run is not None:  # the executor has acted on it
        out.MergeFrom(execution_pb.Execution(
            backend=run.backend, submission_id=run.submission_id, attempts=run.attempts, message=run.message,
            replan=run.replan, submitted_at=ts(run.submitted_at), started_at=ts(run.started_at),
            ended_at=ts(run.ended_at)))
    return out
