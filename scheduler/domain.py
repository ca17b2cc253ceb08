"""The service's records: what the store keeps, as frozen pydantic models that reuse the solver's.

A record is a value: to change one, copy it with new fields and hand it to the store, which
compares ``version`` with what it holds (compare-and-set) and stores ``version + 1``.  State fields
only move along the edges in :mod:`scheduler.states`.  Times are timezone-aware and come from an
injected clock, never from ``datetime.now()`` here.

Cluster reports speak absolute time (a maintenance window from 02:00 to 06:00), while the solver
speaks slots of one round's horizon, so :meth:`ClusterRecord.to_cluster` converts at snapshot time.
"""

from __future__ import annotations

import math
import secrets
import time
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from solver.params import SolveParams
from solver.plan import Plan
from solver.problem import (
    Cluster,
    Frozen,
    GpuType,
    Horizon,
    Id,
    NonNegInt,
    PolicyConfig,
    PosInt,
    Problem,
    Request,
    Unavailability,
)

Version = Annotated[int, Field(ge=0)]

# -- limits: the most any one field may hold, so that no stored record can outgrow a response --------
# (also written beside the fields in proto/allmende/v1/{requests,inventory}.proto)
MAX_TITLE = 300  # characters; titles and reasons hold no control characters (scheduler.api.inbound.plain_text)
MAX_ENTRYPOINT = 10_000  # characters
MAX_OPERATOR = 200  # characters
MAX_RUNTIME_ENV_BYTES = 64 * 1024  # the Struct's encoded size
MAX_RUNTIME_ENV_DEPTH = 20  # levels of nested objects and lists (protobuf itself stops at about 33)
MAX_CARBON_POINTS = 366 * 24  # an hourly forecast a year long: more than any round's horizon reads
MAX_WITHDRAWALS = 1000  # withdrawn windows in one inventory
MAX_RUNTIME_HOURS = 366 * 24  # a year: longer than any round's horizon
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Role(StrEnum):
    """Bearer-token roles; the public ledger needs no token, and ``system`` is the service itself."""

    APPLICANT = "applicant"
    OPERATOR = "operator"
    CLUSTER_AGENT = "cluster-agent"
    ANALYST = "analyst"
    SYSTEM = "system"


class Change(Frozen):
    """Who writes, when, what and why: every audited write carries one and it becomes the audit entry."""

    actor: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    at: AwareDatetime
    action: Annotated[str, Field(min_length=1, max_length=200)]
    reason: str = ""


# -- clusters ---------------------------------------------------------------------------------


class Withdrawal(Frozen):
    """GPUs of one type withdrawn over ``[start, end)`` in wall-clock time (maintenance, other users)."""

    gpu_type: Id
    gpus: PosInt
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Withdrawal:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CarbonForecast(Frozen):
    """gCO2e/kWh per step from ``start``; a slot takes the mean of the steps it overlaps."""

    start: AwareDatetime
    step_minutes: PosInt = 60
    values: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)]

    def over(self, horizon: Horizon) -> list[float]:
        """One value per slot of ``horizon``; before the forecast the first value, after it the last."""
        out: list[float] = []
        for t in range(horizon.slots):
            a = horizon.start + timedelta(minutes=t * horizon.slot_minutes)
            lo = (a - self.start) / timedelta(minutes=self.step_minutes)
            hi = lo + horizon.slot_minutes / self.step_minutes
            steps = range(math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1))
            vals = [self.values[min(max(i, 0), len(self.values) - 1)] for i in steps]
            out.append(sum(vals) / len(vals))
        return out


class Inventory(Frozen):
    """What a cluster agent reports: GPUs now, capacity withdrawn ahead, the carbon forecast, and power.

    ``gpu_power_w`` is the measured mean board power of one busy GPU of each type (DCGM
    ``DCGM_FI_DEV_POWER_USAGE`` or Kepler), when the agent can read it; accounting prefers it to the
    board power x utilisation estimate.  A report changes only the parts it carries: the fields set when the
    model was made (``model_fields_set``), so a carbon-only report leaves the GPU counts as they were.
    """

    gpus: dict[Id, NonNegInt] = {}
    unavailable: list[Withdrawal] = []
    carbon: CarbonForecast | None = None
    gpu_power_w: dict[Id, Annotated[float, Field(ge=0)]] = {}


class ExecutionTarget(Frozen):
    """Where a cluster runs its approved allocations: a Ray cluster's Jobs API, or KubeRay on Kubernetes.

    ``ray``: ``address`` is the Ray dashboard's http URL (``http://head:8265``); an empty address means
    the service's own local head.  ``kuberay``: ``context`` names a kubeconfig context (empty: the
    current one) and ``namespace`` the namespace for its RayJobs (empty: one per organisation).
    """

    kind: Literal["ray", "kuberay"]
    address: Annotated[str, Field(max_length=500)] = ""
    context: Annotated[str, Field(max_length=253)] = ""
    namespace: Annotated[str, Field(max_length=63)] = ""


class ClusterRecord(Frozen):
    id: Id
    operator: Annotated[str, Field(max_length=MAX_OPERATOR)] = ""
    country: Country
    gpu_types: dict[Id, GpuType]
    gpus: dict[Id, NonNegInt]
    power_cap_kw: Annotated[float, Field(gt=0)] | None = None
    pue: Annotated[float, Field(ge=1.0, le=5.0)] = 1.0
    carbon: CarbonForecast | None = None
    unavailable: list[Withdrawal] = []
    last_heartbeat: AwareDatetime | None = None
    registered_at: AwareDatetime
    state: ClusterState = ClusterState.ACTIVE
    execution: ExecutionTarget | None = None
    gpu_power_w: dict[Id, Annotated[float, Field(ge=0)]] = {}
    version: Version = 0

    @model_validator(mode="after")
    def _known_types(self) -> ClusterRecord:
        unknown = sorted(set(self.gpus) - set(self.gpu_types))
        if unknown:
            raise ValueError(f"gpus: no board power given for {', '.join(unknown)}")
        return self

    def to_cluster(self, horizon: Horizon) -> Cluster:
        """The solver's view of this cluster over one round's horizon."""
        end = horizon.start + timedelta(minutes=horizon.slots * horizon.slot_minutes)
        slot = timedelta(minutes=horizon.slot_minutes)
        windows = []
        for w in self.unavailable:
            if w.gpu_type not in self.gpus or w.end <= horizon.start or w.start >= end:
                continue
            a = max(0, math.floor((w.start - horizon.start) / slot))
            b = min(horizon.slots, math.ceil((w.end - horizon.start) / slot))
            windows.append(
                Unavailability(gpu_type=w.gpu_type, gpus=min(w.gpus, self.gpus[w.gpu_type]), from_slot=a, to_slot=b)
            )
        carbon: float | list[float] = self.carbon.over(horizon) if self.carbon else 0.0
        return Cluster(
            id=self.id,
            country=self.country,
            operator=self.operator,
            gpus=self.gpus,
            power_cap_kw=self.power_cap_kw,
            pue=self.pue,
            carbon_intensity=carbon,
            unavailable=[w for w in windows if w.gpus > 0],
        )


# -- requests ---------------------------------------------------------------------------------


class RequestSpec(Frozen):
    """What an applicant submits: GPUs for hours on acceptable types inside a window of dates, plus title,
    entrypoint and idempotency key.

    ``org`` is the applicant organisation.  Two submissions with the same ``(org, idempotency_key)``
    are the same request when their specs are equal, and a :class:`~scheduler.errors.Conflict` when not.
    ``earliest`` and ``deadline`` are instants (no earliest: from whenever a round starts; no deadline:
    until whenever it ends); a round turns them and ``runtime_hours`` into its slots when it snapshots the
    request (:mod:`scheduler.windows`).

    Deprecated for one release: ``runtime_slots``, ``earliest_slot`` and ``deadline_slot`` count slots of
    whichever round picks the request up, as before.  A spec speaks either hours and dates or slots, never
    both, and one in slots is kept as given (not converted): an applicant cannot know the round, and a
    conversion from the submission instant would make an idempotent retry a minute later a conflict.
    """

    SHARED_FIELDS: ClassVar[tuple[str, ...]] = ("org", "category", "gpus", "countries", "merit")
    LEGACY_FIELDS: ClassVar[tuple[str, ...]] = ("runtime_slots", "earliest_slot", "deadline_slot")

    org: Id
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    category: Id
    gpus: PosInt
    runtime_hours: dict[Id, Annotated[float, Field(gt=0, le=MAX_RUNTIME_HOURS)]] = {}
    earliest: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    countries: list[Country] | None = None
    merit: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    entrypoint: Annotated[str, Field(min_length=1, max_length=MAX_ENTRYPOINT)]
    runtime_env: dict[str, Any] = {}
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    runtime_slots: dict[Id, PosInt] = {}  # deprecated: runtime_hours
    earliest_slot: NonNegInt = 0  # deprecated: earliest
    deadline_slot: NonNegInt | None = None  # deprecated: deadline

    @model_validator(mode="after")
    def _one_form(self) -> RequestSpec:
        if self.runtime_hours and self.runtime_slots:
            raise ValueError("runtime_hours and the deprecated runtime_slots cannot both be given: give runtime_hours")
        if not self.runtime_hours and not self.runtime_slots:
            raise ValueError("runtime_hours must list at least one acceptable GPU type")
        if self.in_slots:
            dated = [name for name in ("earliest", "deadline") if getattr(self, name) is not None]
            if dated:
                raise ValueError(f"{dated[0]} is a date, and runtime_slots counts slots: give runtime_hours with it")
            self.slot_request("r")  # the solver's own rules for the window, checked once here
            return self
        if self.earliest_slot or self.deadline_slot is not None:
            name = "earliest_slot" if self.earliest_slot else "deadline_slot"
            raise ValueError(f"{name} is deprecated and counts slots, and runtime_hours is in hours: give "
                             f"{name.removesuffix('_slot')} as a date")
        if self.earliest is not None and self.deadline is not None and self.deadline <= self.earliest:
            raise ValueError(f"deadline ({self.deadline.isoformat()}) must be after earliest "
                             f"({self.earliest.isoformat()})")
        return self

    @property
    def in_slots(self) -> bool:
        """Whether this spec uses the deprecated slot fields (read against the round that picks it up)."""
        return bool(self.runtime_slots)

    def slot_request(self, id: str) -> Request:
        """The solver's request of a spec in deprecated slots, its slots taken as the round's own."""
        shared = {name: getattr(self, name) for name in self.SHARED_FIELDS}
        return Request(id=id, runtime_slots=self.runtime_slots, earliest_slot=self.earliest_slot,
                       deadline_slot=self.deadline_slot, **shared)


DEPRECATED_SLOTS = (
    "deprecated: runtime_slots, earliest_slot and deadline_slot count slots of whichever round picks the request up, "
    "and go in the next release; give runtime_hours, earliest and deadline"
)


class RequestRecord(RequestSpec):
    """A stored request; ``waiting`` says why the latest round that snapshotted it left it in the pool."""

    id: Id
    state: RequestState = RequestState.SUBMITTED
    round_id: Id | None = None
    waiting: str = ""
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    version: Version = 0

    def spec(self) -> RequestSpec:
        """The submitted content alone, for idempotency comparison and amendments."""
        return RequestSpec.model_validate(self.model_dump(include=set(RequestSpec.model_fields)))


# -- rounds and allocations -------------------------------------------------------------------


class RoundRecord(Frozen):
    """One allocation round, replayable: the problem, objective, parameters and OR-Tools version that made its plan."""

    id: Id
    horizon: Horizon
    policy: PolicyConfig = PolicyConfig()
    objective: str = "fair"
    params: SolveParams = SolveParams()
    state: RoundState = RoundState.OPEN
    problem: Problem | None = None
    plan: Plan | None = None
    ortools_version: str | None = None
    progress: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    progress_message: str = ""
    error: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: Version = 0


class Execution(Frozen):
    """The executor's bookkeeping for one allocation, written before each action it takes.

    ``submission_id`` is derived from the allocation id and ``attempts`` (the attempt it names), so a
    repeated submit after a crash is recognised by the backend instead of creating a second job.
    """

    backend: Literal["ray", "kuberay"]
    submission_id: Annotated[str, Field(max_length=253)] = ""
    attempts: NonNegInt = 0
    next_attempt_at: AwareDatetime | None = None
    submitted_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    job_status: str = ""
    message: str = ""
    replan: bool = False


class Usage(Frozen):
    """What an executed allocation actually used: the ledger's "actual" beside the plan's figures.

    ``energy_source`` says whether the energy comes from measured GPU power or from board power x the
    configured utilisation x PUE.  ``co2_kg`` is ``None`` when the cluster reports no carbon
    intensity: unknown, not zero.
    """

    started_at: AwareDatetime
    ended_at: AwareDatetime
    gpu_hours: Annotated[float, Field(ge=0)]
    energy_kwh: Annotated[float, Field(ge=0)]
    energy_source: Literal["measured", "estimated"]
    co2_kg: Annotated[float, Field(ge=0)] | None = None
    sci_g_per_gpu_hour: Annotated[float, Field(ge=0)] | None = None


class AllocationRecord(Frozen):
    """One assignment of a round's plan, reviewed and then executed on its own."""

    id: Id
    round_id: Id
    request_id: Id
    cluster: Id
    gpu_type: Id
    start_slot: NonNegInt
    end_slot: PosInt
    energy_kwh: float = 0.0
    co2_kg: float = 0.0
    state: AllocationState = AllocationState.PROPOSED
    pinned: bool = False
    flagged_stale: bool = False
    execution: Execution | None = None
    usage: Usage | None = None
    version: Version = 0


# -- audit and tokens -------------------------------------------------------------------------


class AuditEntry(Frozen):
    """One line of the append-only log; ``seq`` orders the log and never has gaps reused."""

    seq: PosInt
    at: AwareDatetime
    actor: str
    role: Role
    action: str
    subject: str
    reason: str = ""
    before: str | None = None
    after: str | None = None


class TokenRecord(Frozen):
    """A bearer token as stored: only the salted hash of its secret, never the secret itself."""

    id: Id
    role: Role
    org: Id | None = None
    cluster: Id | None = None
    name: str = ""
    salt: str
    secret_hash: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class IssuedToken(Frozen):
    """What ``create_token`` returns, once: the record and the bearer string to hand to its owner."""

    record: TokenRecord
    bearer: str


def new_id(prefix: str) -> str:
    """A unique id that sorts by creation time: ``prefix-<ms since epoch, hex>-<random>``."""
    return f"{prefix}-{time.time_ns() // 1_000_000:011x}-{secrets.token_hex(5)}"


def subject(kind: str, id: str) -> str:
    """How the audit log names a record: ``request/req-...``."""
    return f"{kind}/{id}"
