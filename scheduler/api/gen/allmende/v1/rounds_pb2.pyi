import datetime

from scheduler.api.gen.allmende.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoundState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_STATE_UNSPECIFIED: _ClassVar[RoundState]
    ROUND_STATE_OPEN: _ClassVar[RoundState]
    ROUND_STATE_SOLVING: _ClassVar[RoundState]
    ROUND_STATE_PROPOSED: _ClassVar[RoundState]
    ROUND_STATE_APPROVED: _ClassVar[RoundState]
    ROUND_STATE_REJECTED: _ClassVar[RoundState]
    ROUND_STATE_PUBLISHED: _ClassVar[RoundState]
    ROUND_STATE_FAILED: _ClassVar[RoundState]

class AllocationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALLOCATION_STATE_UNSPECIFIED: _ClassVar[AllocationState]
    ALLOCATION_STATE_PROPOSED: _ClassVar[AllocationState]
    ALLOCATION_STATE_PINNED: _ClassVar[AllocationState]
    ALLOCATION_STATE_APPROVED: _ClassVar[AllocationState]
    ALLOCATION_STATE_REJECTED: _ClassVar[AllocationState]
    ALLOCATION_STATE_SUPERSEDED: _ClassVar[AllocationState]
    ALLOCATION_STATE_SUBMITTED: _ClassVar[AllocationState]
    ALLOCATION_STATE_RUNNING: _ClassVar[AllocationState]
    ALLOCATION_STATE_SUCCEEDED: _ClassVar[AllocationState]
    ALLOCATION_STATE_FAILED: _ClassVar[AllocationState]
    ALLOCATION_STATE_STALE: _ClassVar[AllocationState]

class Policy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_UNSPECIFIED: _ClassVar[Policy]
    POLICY_FAIR: _ClassVar[Policy]
    POLICY_VALUE: _ClassVar[Policy]
ROUND_STATE_UNSPECIFIED: RoundState
ROUND_STATE_OPEN: RoundState
ROUND_STATE_SOLVING: RoundState
ROUND_STATE_PROPOSED: RoundState
ROUND_STATE_APPROVED: RoundState
ROUND_STATE_REJECTED: RoundState
ROUND_STATE_PUBLISHED: RoundState
ROUND_STATE_FAILED: RoundState
ALLOCATION_STATE_UNSPECIFIED: AllocationState
ALLOCATION_STATE_PROPOSED: AllocationState
ALLOCATION_STATE_PINNED: AllocationState
ALLOCATION_STATE_APPROVED: AllocationState
ALLOCATION_STATE_REJECTED: AllocationState
ALLOCATION_STATE_SUPERSEDED: AllocationState
ALLOCATION_STATE_SUBMITTED: AllocationState
ALLOCATION_STATE_RUNNING: AllocationState
ALLOCATION_STATE_SUCCEEDED: AllocationState
ALLOCATION_STATE_FAILED: AllocationState
ALLOCATION_STATE_STALE: AllocationState
POLICY_UNSPECIFIED: Policy
POLICY_FAIR: Policy
POLICY_VALUE: Policy

class OpenRoundRequest(_message.Message):
    __slots__ = ("horizon", "policy", "policy_config", "solver", "reason")
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLICY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    horizon: _common_pb2.Horizon
    policy: Policy
    policy_config: _common_pb2.PolicyConfig
    solver: _common_pb2.SolverParams
    reason: str
    def __init__(self, horizon: _Optional[_Union[_common_pb2.Horizon, _Mapping]] = ..., policy: _Optional[_Union[Policy, str]] = ..., policy_config: _Optional[_Union[_common_pb2.PolicyConfig, _Mapping]] = ..., solver: _Optional[_Union[_common_pb2.SolverParams, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RunRoundRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class RoundProgress(_message.Message):
    __slots__ = ("round_id", "state", "phase", "fraction", "elapsed_s", "message", "value", "assigned", "bound", "solver_phase")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    SOLVER_PHASE_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    state: RoundState
    phase: str
    fraction: float
    elapsed_s: float
    message: str
    value: float
    assigned: int
    bound: float
    solver_phase: str
    def __init__(self, round_id: _Optional[str] = ..., state: _Optional[_Union[RoundState, str]] = ..., phase: _Optional[str] = ..., fraction: _Optional[float] = ..., elapsed_s: _Optional[float] = ..., message: _Optional[str] = ..., value: _Optional[float] = ..., assigned: _Optional[int] = ..., bound: _Optional[float] = ..., solver_phase: _Optional[str] = ...) -> None: ...

class GetRoundRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class ListRoundsRequest(_message.Message):
    __slots__ = ("page", "state")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    state: RoundState
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., state: _Optional[_Union[RoundState, str]] = ...) -> None: ...

class ListRoundsResponse(_message.Message):
    __slots__ = ("rounds", "next_page_token")
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rounds: _containers.RepeatedCompositeFieldContainer[Round]
    next_page_token: str
    def __init__(self, rounds: _Optional[_Iterable[_Union[Round, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Round(_message.Message):
    __slots__ = ("round_id", "state", "horizon", "policy", "policy_config", "solver", "progress", "opened_at", "solved_at", "ortools_version", "requests", "clusters", "metrics", "flagged_requests", "version", "error")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLICY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    SOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    ORTOOLS_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    state: RoundState
    horizon: _common_pb2.Horizon
    policy: Policy
    policy_config: _common_pb2.PolicyConfig
    solver: _common_pb2.SolverParams
    progress: RoundProgress
    opened_at: _timestamp_pb2.Timestamp
    solved_at: _timestamp_pb2.Timestamp
    ortools_version: str
    requests: int
    clusters: int
    metrics: PlanMetrics
    flagged_requests: _containers.RepeatedScalarFieldContainer[str]
    version: int
    error: str
    def __init__(self, round_id: _Optional[str] = ..., state: _Optional[_Union[RoundState, str]] = ..., horizon: _Optional[_Union[_common_pb2.Horizon, _Mapping]] = ..., policy: _Optional[_Union[Policy, str]] = ..., policy_config: _Optional[_Union[_common_pb2.PolicyConfig, _Mapping]] = ..., solver: _Optional[_Union[_common_pb2.SolverParams, _Mapping]] = ..., progress: _Optional[_Union[RoundProgress, _Mapping]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., solved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ortools_version: _Optional[str] = ..., requests: _Optional[int] = ..., clusters: _Optional[int] = ..., metrics: _Optional[_Union[PlanMetrics, _Mapping]] = ..., flagged_requests: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("request_id", "cluster_id", "gpu_type", "start_slot", "end_slot", "energy_kwh", "co2_kg", "state", "flagged_stale", "allocation_id", "start", "end")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_SLOT_FIELD_NUMBER: _ClassVar[int]
    END_SLOT_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KWH_FIELD_NUMBER: _ClassVar[int]
    CO2_KG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_STALE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    cluster_id: str
    gpu_type: str
    start_slot: int
    end_slot: int
    energy_kwh: float
    co2_kg: float
    state: AllocationState
    flagged_stale: bool
    allocation_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., cluster_id: _Optional[str] = ..., gpu_type: _Optional[str] = ..., start_slot: _Optional[int] = ..., end_slot: _Optional[int] = ..., energy_kwh: _Optional[float] = ..., co2_kg: _Optional[float] = ..., state: _Optional[_Union[AllocationState, str]] = ..., flagged_stale: _Optional[bool] = ..., allocation_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class RuntimeSlots(_message.Message):
    __slots__ = ("runtime_slots",)
    class RuntimeSlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RUNTIME_SLOTS_FIELD_NUMBER: _ClassVar[int]
    runtime_slots: _containers.ScalarMap[str, int]
    def __init__(self, runtime_slots: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Counterfactual(_message.Message):
    __slots__ = ("change", "number", "countries", "runtime_slots", "text")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_SLOTS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    change: str
    number: int
    countries: StringList
    runtime_slots: RuntimeSlots
    text: str
    def __init__(self, change: _Optional[str] = ..., number: _Optional[int] = ..., countries: _Optional[_Union[StringList, _Mapping]] = ..., runtime_slots: _Optional[_Union[RuntimeSlots, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("request_id", "reason", "detail", "counterfactual")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: str
    detail: str
    counterfactual: Counterfactual
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., counterfactual: _Optional[_Union[Counterfactual, _Mapping]] = ...) -> None: ...

class CategoryMetrics(_message.Message):
    __slots__ = ("share", "demand_work", "fair_share_work", "work", "gpu_hours", "attainment", "requests", "assigned")
    SHARE_FIELD_NUMBER: _ClassVar[int]
    DEMAND_WORK_FIELD_NUMBER: _ClassVar[int]
    FAIR_SHARE_WORK_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    ATTAINMENT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    share: float
    demand_work: float
    fair_share_work: float
    work: float
    gpu_hours: float
    attainment: float
    requests: int
    assigned: int
    def __init__(self, share: _Optional[float] = ..., demand_work: _Optional[float] = ..., fair_share_work: _Optional[float] = ..., work: _Optional[float] = ..., gpu_hours: _Optional[float] = ..., attainment: _Optional[float] = ..., requests: _Optional[int] = ..., assigned: _Optional[int] = ...) -> None: ...

class PlanMetrics(_message.Message):
    __slots__ = ("gpu_hours", "work", "value", "min_attainment", "jain", "energy_mwh", "co2_t", "assigned", "rejected", "categories", "utilisation", "wasted", "justified_complaints", "level_spread", "held_back")
    class CategoriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CategoryMetrics
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CategoryMetrics, _Mapping]] = ...) -> None: ...
    class UtilisationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_ATTAINMENT_FIELD_NUMBER: _ClassVar[int]
    JAIN_FIELD_NUMBER: _ClassVar[int]
    ENERGY_MWH_FIELD_NUMBER: _ClassVar[int]
    CO2_T_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    UTILISATION_FIELD_NUMBER: _ClassVar[int]
    WASTED_FIELD_NUMBER: _ClassVar[int]
    JUSTIFIED_COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_SPREAD_FIELD_NUMBER: _ClassVar[int]
    HELD_BACK_FIELD_NUMBER: _ClassVar[int]
    gpu_hours: float
    work: float
    value: float
    min_attainment: float
    jain: float
    energy_mwh: float
    co2_t: float
    assigned: int
    rejected: int
    categories: _containers.MessageMap[str, CategoryMetrics]
    utilisation: _containers.ScalarMap[str, float]
    wasted: int
    justified_complaints: int
    level_spread: LevelSpread
    held_back: str
    def __init__(self, gpu_hours: _Optional[float] = ..., work: _Optional[float] = ..., value: _Optional[float] = ..., min_attainment: _Optional[float] = ..., jain: _Optional[float] = ..., energy_mwh: _Optional[float] = ..., co2_t: _Optional[float] = ..., assigned: _Optional[int] = ..., rejected: _Optional[int] = ..., categories: _Optional[_Mapping[str, CategoryMetrics]] = ..., utilisation: _Optional[_Mapping[str, float]] = ..., wasted: _Optional[int] = ..., justified_complaints: _Optional[int] = ..., level_spread: _Optional[_Union[LevelSpread, _Mapping]] = ..., held_back: _Optional[str] = ...) -> None: ...

class LevelSpread(_message.Message):
    __slots__ = ("ratio", "highest", "lowest", "levels")
    class LevelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RATIO_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_FIELD_NUMBER: _ClassVar[int]
    LOWEST_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    ratio: float
    highest: str
    lowest: str
    levels: _containers.ScalarMap[str, float]
    def __init__(self, ratio: _Optional[float] = ..., highest: _Optional[str] = ..., lowest: _Optional[str] = ..., levels: _Optional[_Mapping[str, float]] = ...) -> None: ...

class SolverInfo(_message.Message):
    __slots__ = ("status", "policy", "objective", "bound", "wall_seconds")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    status: str
    policy: str
    objective: float
    bound: float
    wall_seconds: float
    def __init__(self, status: _Optional[str] = ..., policy: _Optional[str] = ..., objective: _Optional[float] = ..., bound: _Optional[float] = ..., wall_seconds: _Optional[float] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("round_id", "assignments", "rejections", "metrics", "solver")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    metrics: PlanMetrics
    solver: SolverInfo
    def __init__(self, round_id: _Optional[str] = ..., assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ..., metrics: _Optional[_Union[PlanMetrics, _Mapping]] = ..., solver: _Optional[_Union[SolverInfo, _Mapping]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("round_id", "request_id")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    request_id: str
    def __init__(self, round_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("round_id", "request_id", "assigned", "assignment", "reason", "detail", "counterfactual")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    request_id: str
    assigned: bool
    assignment: Assignment
    reason: str
    detail: str
    counterfactual: Counterfactual
    def __init__(self, round_id: _Optional[str] = ..., request_id: _Optional[str] = ..., assigned: _Optional[bool] = ..., assignment: _Optional[_Union[Assignment, _Mapping]] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., counterfactual: _Optional[_Union[Counterfactual, _Mapping]] = ...) -> None: ...

class ReplayRoundRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class AssignmentDiff(_message.Message):
    __slots__ = ("request_id", "before", "after")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    before: str
    after: str
    def __init__(self, request_id: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class ReplayRoundResponse(_message.Message):
    __slots__ = ("round_id", "identical", "differences", "stored", "replayed", "stored_ortools_version", "current_ortools_version")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTICAL_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    STORED_ORTOOLS_VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ORTOOLS_VERSION_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    identical: bool
    differences: _containers.RepeatedCompositeFieldContainer[AssignmentDiff]
    stored: PlanMetrics
    replayed: PlanMetrics
    stored_ortools_version: str
    current_ortools_version: str
    def __init__(self, round_id: _Optional[str] = ..., identical: _Optional[bool] = ..., differences: _Optional[_Iterable[_Union[AssignmentDiff, _Mapping]]] = ..., stored: _Optional[_Union[PlanMetrics, _Mapping]] = ..., replayed: _Optional[_Union[PlanMetrics, _Mapping]] = ..., stored_ortools_version: _Optional[str] = ..., current_ortools_version: _Optional[str] = ...) -> None: ...
