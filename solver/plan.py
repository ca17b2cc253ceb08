"""The plan file: what runs where and when, what was rejected and why, and the figures.

A plan answers one problem.  Every request appears exactly once, either as an
assignment (cluster, GPU type, ``[start_slot, end_slot)``) or as a rejection
with a machine-readable ``reason`` from :data:`REASONS` and a sentence a person
can read.  ``metrics`` and ``solver`` are reports: they never decide validity.  A plan
written by another program is read whatever it puts there: a block (or top-level key)
this module cannot read is left out and named in :attr:`Plan.notes`, never refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from solver.problem import Id

Reason = Literal[
    "no_eligible_cluster",
    "window_too_short",
    "capacity",
    "power_cap",
    "energy_budget",
    "carbon_budget",
    "org_cap",
    "category_balance",
    "lower_merit",
]

REASONS: dict[str, str] = {
    "no_eligible_cluster": "no cluster in an allowed country has any of the acceptable GPU types",
    "window_too_short": "the window from earliest slot to deadline is shorter than the runtime on every eligible type",
    "capacity": "every eligible cluster, type and start is full with other allocations or maintenance",
    "power_cap": "a cluster's power cap, not its GPU count, leaves no room at any eligible start",
    "energy_budget": "the programme energy budget is spent",
    "carbon_budget": "the programme carbon budget is spent",
    "org_cap": "the organisation has reached its cap on the horizon's GPU-hours",
    "category_balance": ("it fits on its own, but the capacity it needs is held by categories that would be no "
                         "better served than its own with it"),
    "lower_merit": "it would fit in an empty plan, but higher-merit requests took the capacity it needs",
}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Assignment(Frozen):
    request: Id
    cluster: Id
    gpu_type: Id
    start_slot: Annotated[int, Field(ge=0)]
    end_slot: Annotated[int, Field(ge=1)]
    energy_kwh: float = 0.0
    co2_kg: float = 0.0


class Counterfactual(Frozen):
    """One change to the request under which it fits beside the plan as it stands."""

    change: Literal["runtime_slots", "deadline_slot", "earliest_slot", "gpus", "countries"]
    value: int | list[str] | dict[str, int]
    text: str


class Rejection(Frozen):
    request: Id
    reason: Reason
    detail: Annotated[str, Field(min_length=1)]
    counterfactual: Counterfactual | None = None


class CategoryMetrics(Frozen):
    share: float
    demand_work: float
    fair_share_work: float
    work: float
    gpu_hours: float
    attainment: float
    requests: int
    assigned: int


class LevelSpread(Frozen):
    """How far from even the plan is: the largest level (work / share) over the smallest, among the
    categories with a share that still have rejected requests fitting alone; ``ratio`` is None
    when the lowest level is 0."""

    ratio: float | None
    highest: str
    lowest: str
    levels: dict[str, float]


class Metrics(Frozen):
    gpu_hours: float = 0.0
    gpu_hours_by_category: dict[str, float] = {}
    work: float = 0.0
    value: float = 0.0
    attainment: dict[str, float] = {}
    categories: dict[str, CategoryMetrics] = {}
    min_attainment: float = 0.0
    jain: float = 0.0
    energy_mwh: float = 0.0
    co2_t: float = 0.0
    utilisation: dict[str, float] = {}
    assigned: int = 0
    rejected: int = 0
    wasted: int = 0
    justified_complaints: int = 0
    level_spread: LevelSpread | None = None
    held_back: str | None = None


class SolverInfo(Frozen):
    status: str = "UNKNOWN"
    policy: str = ""
    objective: float = 0.0
    bound: float = 0.0
    wall_seconds: float = 0.0
    first_plan_seconds: float = 0.0
    stages: dict[str, float] = {}


class Progress(Frozen):
    """Where a running solve stands, for a caller that shows it: the phase, the best plan so far
    (its value and how many requests it assigns) and, once the LP has run, the upper bound."""

    phase: str
    elapsed_s: float
    time_limit_s: float
    value: float
    assigned: int
    bound: float | None = None


class Plan(Frozen):
    version: Literal[1] = 1
    assignments: list[Assignment] = []
    rejected: list[Rejection] = []
    metrics: Metrics = Metrics()
    solver: SolverInfo = SolverInfo()
    _notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What was left out when the plan was read: informational blocks in a shape this contract does not have."""
        return list(self._notes)

    @model_validator(mode="wrap")
    @classmethod
    def _informational(cls, data: object, handler: ValidatorFunctionWrapHandler) -> Plan:
        """Strict on assignments and rejections; ``metrics``, ``solver`` and unknown keys only earn a note."""
        notes: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            for key, model in (("metrics", Metrics), ("solver", SolverInfo)):
                if key in data and not isinstance(data[key], (Metrics, SolverInfo)):
                    try:
                        model.model_validate(data[key])
                    except ValidationError as exc:
                        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or key}: {e['msg']}"
                                             for e in exc.errors()[:5])
                        notes.append(f"{key} not read (informational, not checked): {problems}")
                        del data[key]
            for key in sorted(set(data) - set(cls.model_fields), key=str):
                notes.append(f"unknown top-level key {key!r} ignored")
                del data[key]
        plan = handler(data)
        assert isinstance(plan, Plan)
        plan._notes = notes
        return plan
