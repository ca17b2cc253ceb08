"""The problem file: clusters, requests and policy for one allocation round.

Times are discrete slots of ``slot_minutes``; slot ``t`` covers
``[start + t*slot, start + (t+1)*slot)`` and every interval is half-open, so a
job on ``[s, e)`` occupies slots ``s .. e-1``.

These frozen pydantic models are the single source of truth for the format:
``allmende schema`` prints their JSON Schema, and every consumer (CLI, service,
simulations) validates through them.  Cross-references (a GPU type a cluster or
request names, a slot beyond the horizon, duplicate ids, shares that do not sum
to one) are checked here, so that the solver only ever sees a consistent problem.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
PosInt = Annotated[StrictInt, Field(gt=0)]

SHARE_TOLERANCE = 1e-6


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Horizon(Frozen):
    start: AwareDatetime
    slot_minutes: PosInt = 60
    slots: PosInt

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60.0


class GpuType(Frozen):
    tdp_watts: Annotated[float, Field(gt=0)]
    memory_gb: Annotated[float, Field(gt=0)] | None = None


class Unavailability(Frozen):
    """GPUs of one type withdrawn on slots ``[from_slot, to_slot)``."""

    gpu_type: Id
    gpus: PosInt
    from_slot: NonNegInt
    to_slot: NonNegInt

    @model_validator(mode="after")
    def _ordered(self) -> Unavailability:
        if self.to_slot <= self.from_slot:
            raise ValueError(f"to_slot ({self.to_slot}) must be greater than from_slot ({self.from_slot})")
        return self


class Cluster(Frozen):
    id: Id
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    operator: str = ""
    gpus: dict[Id, NonNegInt]
    power_cap_kw: Annotated[float, Field(gt=0)] | None = None
    pue: Annotated[float, Field(ge=1.0, le=5.0)] = 1.0
    carbon_intensity: Annotated[float, Field(ge=0)] | list[Annotated[float, Field(ge=0)]] = 0.0
    unavailable: list[Unavailability] = []

    def intensity(self, slot: int) -> float:
        """gCO2e/kWh in ``slot``."""
        ci = self.carbon_intensity
        return ci[slot] if isinstance(ci, list) else ci


class Request(Frozen):
    id: Id
    org: Id
    category: Id
    gpus: PosInt
    runtime_slots: dict[Id, PosInt]
    earliest_slot: NonNegInt = 0
    deadline_slot: NonNegInt | None = None
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = None
    merit: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5

    @field_validator("runtime_slots")
    @classmethod
    def _some_type(cls, v: dict[str, int]) -> dict[str, int]:
        if not v:
            raise ValueError("must list at least one acceptable GPU type")
        return v

    @field_validator("countries")
    @classmethod
    def _some_country(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("must name at least one country, or be omitted to allow any")
        return v

    @model_validator(mode="after")
    def _window(self) -> Request:
        if self.deadline_slot is not None and self.deadline_slot <= self.earliest_slot:
            raise ValueError(
                f"deadline_slot ({self.deadline_slot}) must be after earliest_slot ({self.earliest_slot})"
            )
        return self

    @property
    def fastest_runtime(self) -> int:
        return min(self.runtime_slots.values())


class PolicyConfig(Frozen):
    """Budgets and shares a round must respect; the objective itself is a :mod:`solver.policies` policy."""

    category_shares: dict[Id, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    org_cap_share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    energy_budget_mwh: Annotated[float, Field(ge=0.0)] | None = None
    carbon_budget_t: Annotated[float, Field(ge=0.0)] | None = None

    @field_validator("category_shares")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        if v and abs(sum(v.values()) - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"shares must sum to 1, got {sum(v.values()):.6g}")
        return v


class Pin(Frozen):
    """An assignment an operator has fixed: the solver keeps it and plans the rest around it."""

    request: Id
    cluster: Id
    gpu_type: Id
    start_slot: NonNegInt


class Problem(Frozen):
    version: Literal[1] = 1
    horizon: Horizon
    gpu_types: dict[Id, GpuType]
    clusters: list[Cluster]
    requests: list[Request]
    policy: PolicyConfig = PolicyConfig()
    pins: list[Pin] = []

    @model_validator(mode="after")
    def _consistent(self) -> Problem:
        errors: list[str] = []
        slots = self.horizon.slots
        _duplicates("clusters", [c.id for c in self.clusters], errors)
        _duplicates("requests", [r.id for r in self.requests], errors)
        for c in self.clusters:
            where = f"clusters[id={c.id}]"
            for g in c.gpus:
                if g not in self.gpu_types:
                    errors.append(f"{where}.gpus: unknown GPU type {g!r}")
            if isinstance(c.carbon_intensity, list) and len(c.carbon_intensity) != slots:
                errors.append(
                    f"{where}.carbon_intensity: needs one value per slot ({slots}), got {len(c.carbon_intensity)}"
                )
            for i, u in enumerate(c.unavailable):
                if u.gpu_type not in c.gpus:
                    errors.append(f"{where}.unavailable[{i}].gpu_type: cluster has no {u.gpu_type!r} GPUs")
                elif u.gpus > c.gpus[u.gpu_type]:
                    errors.append(
                        f"{where}.unavailable[{i}].gpus: withdraws {u.gpus} but the cluster has "
                        f"{c.gpus[u.gpu_type]} {u.gpu_type}"
                    )
                if u.to_slot > slots:
                    errors.append(f"{where}.unavailable[{i}].to_slot: {u.to_slot} is beyond the horizon ({slots})")
        for r in self.requests:
            where = f"requests[id={r.id}]"
            for g in r.runtime_slots:
                if g not in self.gpu_types:
                    errors.append(f"{where}.runtime_slots: unknown GPU type {g!r}")
            if r.deadline_slot is not None and r.deadline_slot > slots:
                errors.append(f"{where}.deadline_slot: {r.deadline_slot} is beyond the horizon ({slots})")
            if r.earliest_slot >= slots:
                errors.append(f"{where}.earliest_slot: {r.earliest_slot} is not inside the horizon ({slots})")
        self._check_pins(errors)
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _check_pins(self, errors: list[str]) -> None:
        """What a pin can break on its own: references, type, country, window.  Whether pins fit together
        (capacity, power, budgets, organisation cap) is for the solver, which says which pin does not."""
        requests = {r.id: r for r in self.requests}
        clusters = {c.id: c for c in self.clusters}
        _duplicates("pins", [p.request for p in self.pins], errors)
        for p in self.pins:
            where = f"pins[request={p.request}]"
            r, c = requests.get(p.request), clusters.get(p.cluster)
            if r is None:
                errors.append(f"{where}.request: no request {p.request!r}")
                continue
            if c is None:
                errors.append(f"{where}.cluster: no cluster {p.cluster!r}")
                continue
            if p.gpu_type not in r.runtime_slots or c.gpus.get(p.gpu_type, 0) == 0:
                errors.append(f"{where}.gpu_type: {p.request} does not accept {p.gpu_type!r} or {p.cluster} has none")
                continue
            if r.countries is not None and c.country not in r.countries:
                errors.append(f"{where}.cluster: {p.cluster} is in {c.country}, outside {p.request}'s countries")
            end = p.start_slot + r.runtime_slots[p.gpu_type]
            if p.start_slot < r.earliest_slot or end > self.deadline(r):
                errors.append(f"{where}.start_slot: [{p.start_slot}, {end}) is outside the request's window "
                              f"[{r.earliest_slot}, {self.deadline(r)})")

    def deadline(self, r: Request) -> int:
        return self.horizon.slots if r.deadline_slot is None else r.deadline_slot

    def gpu_hour_capacity(self) -> float:
        """All GPUs of all clusters over all slots, less what ``unavailable`` withdraws."""
        gpu_slots = sum(sum(available(c, g, self.horizon.slots)) for c in self.clusters for g in c.gpus)
        return gpu_slots * self.horizon.slot_hours

    def work(self, r: Request) -> float:
        """GPU-hours on the request's fastest listed type: fixed, whatever it is given."""
        return r.gpus * r.fastest_runtime * self.horizon.slot_hours


def available(cluster: Cluster, gpu_type: str, slots: int) -> list[int]:
    """GPUs of ``gpu_type`` usable in each slot, after maintenance windows (never below zero)."""
    free = [cluster.gpus.get(gpu_type, 0)] * slots
    for u in cluster.unavailable:
        if u.gpu_type == gpu_type:
            for t in range(u.from_slot, min(u.to_slot, slots)):
                free[t] -= u.gpus
    return [max(0, f) for f in free]


def _duplicates(field: str, ids: list[str], errors: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            errors.append(f"{field}[id={i}]: duplicate id")
        seen.add(i)
