import datetime

from scheduler.api.gen.allmende.v1 import common_pb2 as _common_pb2
from scheduler.api.gen.allmende.v1 import rounds_pb2 as _rounds_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPublishedRoundsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListPublishedRoundsResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetLedgerEntryRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("gpu_hours", "share", "requests", "allocated")
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    gpu_hours: float
    share: float
    requests: int
    allocated: int
    def __init__(self, gpu_hours: _Optional[float] = ..., share: _Optional[float] = ..., requests: _Optional[int] = ..., allocated: _Optional[int] = ...) -> None: ...

class PublicAllocation(_message.Message):
    __slots__ = ("request_id", "title", "org", "category", "cluster_id", "gpu_type", "gpus", "start_slot", "end_slot", "energy_kwh", "co2_kg", "allocation_id", "state", "actual")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    START_SLOT_FIELD_NUMBER: _ClassVar[int]
    END_SLOT_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KWH_FIELD_NUMBER: _ClassVar[int]
    CO2_KG_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    title: str
    org: str
    category: str
    cluster_id: str
    gpu_type: str
    gpus: int
    start_slot: int
    end_slot: int
    energy_kwh: float
    co2_kg: float
    allocation_id: str
    state: _rounds_pb2.AllocationState
    actual: Usage
    def __init__(self, request_id: _Optional[str] = ..., title: _Optional[str] = ..., org: _Optional[str] = ..., category: _Optional[str] = ..., cluster_id: _Optional[str] = ..., gpu_type: _Optional[str] = ..., gpus: _Optional[int] = ..., start_slot: _Optional[int] = ..., end_slot: _Optional[int] = ..., energy_kwh: _Optional[float] = ..., co2_kg: _Optional[float] = ..., allocation_id: _Optional[str] = ..., state: _Optional[_Union[_rounds_pb2.AllocationState, str]] = ..., actual: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("started_at", "ended_at", "gpu_hours", "energy_kwh", "energy_source", "co2_kg", "sci_g_per_gpu_hour")
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KWH_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CO2_KG_FIELD_NUMBER: _ClassVar[int]
    SCI_G_PER_GPU_HOUR_FIELD_NUMBER: _ClassVar[int]
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    gpu_hours: float
    energy_kwh: float
    energy_source: str
    co2_kg: float
    sci_g_per_gpu_hour: float
    def __init__(self, started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gpu_hours: _Optional[float] = ..., energy_kwh: _Optional[float] = ..., energy_source: _Optional[str] = ..., co2_kg: _Optional[float] = ..., sci_g_per_gpu_hour: _Optional[float] = ...) -> None: ...

class Figures(_message.Message):
    __slots__ = ("items", "gpu_hours", "energy_kwh", "co2_kg", "co2_unknown")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KWH_FIELD_NUMBER: _ClassVar[int]
    CO2_KG_FIELD_NUMBER: _ClassVar[int]
    CO2_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    items: int
    gpu_hours: float
    energy_kwh: float
    co2_kg: float
    co2_unknown: int
    def __init__(self, items: _Optional[int] = ..., gpu_hours: _Optional[float] = ..., energy_kwh: _Optional[float] = ..., co2_kg: _Optional[float] = ..., co2_unknown: _Optional[int] = ...) -> None: ...

class Accounts(_message.Message):
    __slots__ = ("planned", "actual", "sci_planned", "sci_actual")
    PLANNED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    SCI_PLANNED_FIELD_NUMBER: _ClassVar[int]
    SCI_ACTUAL_FIELD_NUMBER: _ClassVar[int]
    planned: Figures
    actual: Figures
    sci_planned: float
    sci_actual: float
    def __init__(self, planned: _Optional[_Union[Figures, _Mapping]] = ..., actual: _Optional[_Union[Figures, _Mapping]] = ..., sci_planned: _Optional[float] = ..., sci_actual: _Optional[float] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("round_id", "published_at", "horizon", "policy", "allocations", "by_category", "by_org", "energy_mwh", "co2_t", "rejections_by_reason", "min_attainment", "jain", "accounts", "accounts_by_category", "accounts_by_org")
    class ByCategoryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Share
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Share, _Mapping]] = ...) -> None: ...
    class ByOrgEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Share
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Share, _Mapping]] = ...) -> None: ...
    class RejectionsByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class AccountsByCategoryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Accounts
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Accounts, _Mapping]] = ...) -> None: ...
    class AccountsByOrgEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Accounts
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Accounts, _Mapping]] = ...) -> None: ...
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    BY_ORG_FIELD_NUMBER: _ClassVar[int]
    ENERGY_MWH_FIELD_NUMBER: _ClassVar[int]
    CO2_T_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    MIN_ATTAINMENT_FIELD_NUMBER: _ClassVar[int]
    JAIN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_BY_ORG_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    published_at: _timestamp_pb2.Timestamp
    horizon: _common_pb2.Horizon
    policy: _rounds_pb2.Policy
    allocations: _containers.RepeatedCompositeFieldContainer[PublicAllocation]
    by_category: _containers.MessageMap[str, Share]
    by_org: _containers.MessageMap[str, Share]
    energy_mwh: float
    co2_t: float
    rejections_by_reason: _containers.ScalarMap[str, int]
    min_attainment: float
    jain: float
    accounts: Accounts
    accounts_by_category: _containers.MessageMap[str, Accounts]
    accounts_by_org: _containers.MessageMap[str, Accounts]
    def __init__(self, round_id: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., horizon: _Optional[_Union[_common_pb2.Horizon, _Mapping]] = ..., policy: _Optional[_Union[_rounds_pb2.Policy, str]] = ..., allocations: _Optional[_Iterable[_Union[PublicAllocation, _Mapping]]] = ..., by_category: _Optional[_Mapping[str, Share]] = ..., by_org: _Optional[_Mapping[str, Share]] = ..., energy_mwh: _Optional[float] = ..., co2_t: _Optional[float] = ..., rejections_by_reason: _Optional[_Mapping[str, int]] = ..., min_attainment: _Optional[float] = ..., jain: _Optional[float] = ..., accounts: _Optional[_Union[Accounts, _Mapping]] = ..., accounts_by_category: _Optional[_Mapping[str, Accounts]] = ..., accounts_by_org: _Optional[_Mapping[str, Accounts]] = ...) -> None: ...
