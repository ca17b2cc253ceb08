import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Unavailability(_message.Message):
    __slots__ = ("gpu_type", "gpus", "from_slot", "to_slot")
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    FROM_SLOT_FIELD_NUMBER: _ClassVar[int]
    TO_SLOT_FIELD_NUMBER: _ClassVar[int]
    gpu_type: str
    gpus: int
    from_slot: int
    to_slot: int
    def __init__(self, gpu_type: _Optional[str] = ..., gpus: _Optional[int] = ..., from_slot: _Optional[int] = ..., to_slot: _Optional[int] = ...) -> None: ...

class Horizon(_message.Message):
    __slots__ = ("start", "slot_minutes", "slots")
    START_FIELD_NUMBER: _ClassVar[int]
    SLOT_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    slot_minutes: int
    slots: int
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slot_minutes: _Optional[int] = ..., slots: _Optional[int] = ...) -> None: ...

class PolicyConfig(_message.Message):
    __slots__ = ("category_shares", "org_cap_share", "energy_budget_mwh", "carbon_budget_t")
    class CategorySharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CATEGORY_SHARES_FIELD_NUMBER: _ClassVar[int]
    ORG_CAP_SHARE_FIELD_NUMBER: _ClassVar[int]
    ENERGY_BUDGET_MWH_FIELD_NUMBER: _ClassVar[int]
    CARBON_BUDGET_T_FIELD_NUMBER: _ClassVar[int]
    category_shares: _containers.ScalarMap[str, float]
    org_cap_share: float
    energy_budget_mwh: float
    carbon_budget_t: float
    def __init__(self, category_shares: _Optional[_Mapping[str, float]] = ..., org_cap_share: _Optional[float] = ..., energy_budget_mwh: _Optional[float] = ..., carbon_budget_t: _Optional[float] = ...) -> None: ...

class SolverParams(_message.Message):
    __slots__ = ("time_limit_s", "workers", "seed", "deterministic")
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DETERMINISTIC_FIELD_NUMBER: _ClassVar[int]
    time_limit_s: float
    workers: int
    seed: int
    deterministic: bool
    def __init__(self, time_limit_s: _Optional[float] = ..., workers: _Optional[int] = ..., seed: _Optional[int] = ..., deterministic: _Optional[bool] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("seq", "at", "actor", "role", "action", "subject_kind", "subject_id", "reason", "detail_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: _timestamp_pb2.Timestamp
    actor: str
    role: str
    action: str
    subject_kind: str
    subject_id: str
    reason: str
    detail_json: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., role: _Optional[str] = ..., action: _Optional[str] = ..., subject_kind: _Optional[str] = ..., subject_id: _Optional[str] = ..., reason: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...
