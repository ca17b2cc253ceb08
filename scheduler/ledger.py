"""The public ledger: what a published round gave to whom, and what it cost.

Every figure is recomputed from what stands after review, never copied from the solver's plan: the
fairness figures (min attainment, Jain's index) too.  Shares are of the round's allocated GPU-hours
(``gpus × (end - start) × slot_hours``); energy and CO2 are summed over the allocations that stand after review.
Rejections are counted by the solver's reason, with allocations an operator rejected counted as
``rejected_in_review``.

Planned and actual figures stand side by side (:class:`Accounts`), for the round and per category
and organisation.  Planned energy is board power at full utilisation × PUE, as the solver counts
it; actual figures come from the runs (:mod:`scheduler.accounting`) and cover the executed
allocations only.  CO2 on a cluster without carbon data is unknown (``None``), never 0.
Pure: built from records the caller reads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.accounting import Figures, total
from scheduler.domain import AllocationRecord, ClusterRecord, RequestRecord, RoundRecord, Usage
from scheduler.states import AllocationState
from solver.metrics import fairness, water_fill
from solver.problem import Horizon
from solver.sci import SciSpec, sci

ENERGY_NOTE = ("Planned energy counts every GPU at its board power (TDP) at full utilisation × PUE, as the solver "
                "does to keep within the energy cap; actual energy uses measured GPU power where the cluster agent "
                "reports it, else board power × the configured utilisation × PUE.")
STANDING = frozenset({
    AllocationState.APPROVED, AllocationState.SUBMITTED, AllocationState.RUNNING,
    AllocationState.SUCCEEDED, AllocationState.FAILED, AllocationState.STALE,
})
REVIEW_REJECTED = "rejected_in_review"


@dataclass(frozen=True)
class Share:
    gpu_hours: float = 0.0
    share: float = 0.0
    requests: int = 0
    allocated: int = 0


@dataclass(frozen=True)
class PublicAllocation:
    request_id: str
    title: str
    org: str
    category: str
    cluster: str
    gpu_type: str
    gpus: int
    start_slot: int
    end_slot: int
    energy_kwh: float
    co2_kg: float | None
    allocation_id: str = ""
    state: str = AllocationState.APPROVED.value
    actual: Usage | None = None


@dataclass(frozen=True)
class Accounts:
    """Planned against actual for one group of allocations; SCI in gCO2e per GPU-hour, ``None`` where CO2 is unknown."""

    planned: Figures = field(default_factory=Figures)
    actual: Figures = field(default_factory=Figures)
    sci_planned: float | None = None
    sci_actual: float | None = None


@dataclass(frozen=True)
class LedgerEntry:
    round_id: str
    published_at: datetime
    horizon: Horizon
    objective: str
    allocations: list[PublicAllocation] = field(default_factory=list)
    by_category: dict[str, Share] = field(default_factory=dict)
    by_org: dict[str, Share] = field(default_factory=dict)
    energy_mwh: float = 0.0
    co2_t: float | None = 0.0
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    min_attainment: float = 0.0
    jain: float = 0.0
    accounts: Accounts = field(default_factory=Accounts)
    accounts_by_category: dict[str, Accounts] = field(default_factory=dict)
    accounts_by_org: dict[str, Accounts] = field(default_factory=dict)


def entry(round: RoundRecord, allocations: Iterable[AllocationRecord], requests: Mapping[str, RequestRecord],
          clusters: Mapping[str, ClusterRecord] | None = None, embodied: SciSpec | None = None) -> LedgerEntry:
    """The public entry of ``round``; ``clusters`` tell which clusters report no carbon data (CO2 unknown)."""
    allocations = list(allocations)
    h = round.horizon.slot_hours
    standing = sorted((a for a in allocations if a.state in STANDING), key=lambda a: a.request_id)
    no_carbon = {c.id for c in (clusters or {}).values() if c.carbon is None}
    public = []
    for a in standing:
        r = requests[a.request_id]
        public.append(PublicAllocation(
            request_id=a.request_id, title=r.title, org=r.org, category=r.category, cluster=a.cluster,
            gpu_type=a.gpu_type, gpus=r.gpus, start_slot=a.start_slot, end_slot=a.end_slot,
            energy_kwh=a.energy_kwh, co2_kg=None if a.cluster in no_carbon else a.co2_kg,
            allocation_id=a.id, state=a.state.value, actual=a.usage,
        ))
    total = sum(p.gpus * (p.end_slot - p.start_slot) * h for p in public)
    in_round = [requests[q.id] for q in (round.problem.requests if round.problem else []) if q.id in requests]
    reasons: Counter[str] = Counter(r.reason for r in (round.plan.rejected if round.plan else []))
    placed = {p.request_id for p in public}
    reasons[REVIEW_REJECTED] = sum(
        1 for a in allocations if a.state == AllocationState.REJECTED and a.request_id not in placed
    )
    min_attainment, jain = approved_fairness(round, standing)
    round_accounts = accounts(public, h, embodied)
    return LedgerEntry(
        round_id=round.id,
        published_at=round.updated_at,
        horizon=round.horizon,
        objective=round.objective,
        allocations=public,
        by_category=_shares(public, in_round, total, h, "category"),
        by_org=_shares(public, in_round, total, h, "org"),
        energy_mwh=sum(p.energy_kwh for p in public) / 1000.0,
        co2_t=None if round_accounts.planned.co2_known is None else round_accounts.planned.co2_kg / 1000.0,
        rejections_by_reason={k: v for k, v in sorted(reasons.items()) if v},
        min_attainment=min_attainment,
        jain=jain,
        accounts=round_accounts,
        accounts_by_category=_accounts_by(public, h, "category", embodied),
        accounts_by_org=_accounts_by(public, h, "org", embodied),
    )


def approved_fairness(round: RoundRecord, standing: Iterable[AllocationRecord]) -> tuple[float, float]:
    """(min attainment, Jain's index) of what stands after review, as the solver defines them for its plan.

    Each category's demand and share are the plan's; its work is that of the standing allocations only, and
    the fair shares are water-filled again over that work (:func:`solver.metrics.water_fill`).
    """
    if round.plan is None or round.problem is None:
        return 0.0, 0.0
    asked = {q.id: q for q in round.problem.requests}
    work: dict[str, float] = defaultdict(float)
    for a in standing:
        if a.request_id in asked:
            work[asked[a.request_id].category] += round.problem.work(asked[a.request_id])
    counted = [c for c, m in sorted(round.plan.metrics.categories.items()) if m.share > 0 and m.demand_work > 0]
    cats = round.plan.metrics.categories
    fair = water_fill(sum(work[c] for c in counted), [cats[c].share for c in counted],
                      [cats[c].demand_work for c in counted])
    attained = {i: (work[c] / f if f > 0 else 0.0) for i, (c, f) in enumerate(zip(counted, fair, strict=True))}
    return fairness(attained)


def accounts(public: Iterable[PublicAllocation], slot_hours: float, embodied: SciSpec | None = None) -> Accounts:
    """Planned figures of every standing allocation beside the actual figures of those that ran."""
    public = list(public)
    planned = total((p.gpus * (p.end_slot - p.start_slot) * slot_hours, p.energy_kwh, p.co2_kg) for p in public)
    ran = [p.actual for p in public if p.actual is not None]
    actual = total((u.gpu_hours, u.energy_kwh, u.co2_kg) for u in ran)
    per_gpu_hour = (embodied or SciSpec()).kg_per_gpu_hour
    return Accounts(planned=planned, actual=actual, sci_planned=_sci(planned, per_gpu_hour),
                    sci_actual=_sci(actual, per_gpu_hour))


def _sci(f: Figures, embodied_kg_per_gpu_hour: float) -> float | None:
    if f.gpu_hours == 0 or f.co2_unknown:
        return None
    return sci(f.co2_kg, embodied_kg_per_gpu_hour * f.gpu_hours, f.gpu_hours)


def _accounts_by(public: list[PublicAllocation], h: float, key: str, embodied: SciSpec | None) -> dict[str, Accounts]:
    groups: dict[str, list[PublicAllocation]] = defaultdict(list)
    for p in public:
        groups[getattr(p, key)].append(p)
    return {k: accounts(v, h, embodied) for k, v in sorted(groups.items())}


def _shares(public: list[PublicAllocation], in_round: list[RequestRecord], total: float, h: float, key: str) -> (
        dict[str, Share]):
    hours: dict[str, float] = defaultdict(float)
    allocated: Counter[str] = Counter()
    for p in public:
        hours[getattr(p, key)] += p.gpus * (p.end_slot - p.start_slot) * h
        allocated[getattr(p, key)] += 1
    asked: Counter[str] = Counter(getattr(r, key) for r in in_round)
    return {
        k: Share(
            gpu_hours=hours[k], share=hours[k] / total if total else 0.0, requests=asked[k], allocated=allocated[k]
        )
        for k in sorted(asked.keys() | hours.keys())
    }
