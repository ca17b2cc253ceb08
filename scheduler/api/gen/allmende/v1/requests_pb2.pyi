import datetime

from scheduler.api.gen.allmende.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_STATE_UNSPECIFIED: _ClassVar[RequestState]
    REQUEST_STATE_SUBMITTED: _ClassVar[RequestState]
    REQUEST_STATE_IN_ROUND: _ClassVar[RequestState]
    REQUEST_STATE_ALLOCATED: _ClassVar[RequestState]
    REQUEST_STATE_REJECTED: _ClassVar[RequestState]
    REQUEST_STATE_WITHDRAWN: _ClassVar[RequestState]
REQUEST_STATE_UNSPECIFIED: RequestState
REQUEST_STATE_SUBMITTED: RequestState
REQUEST_STATE_IN_ROUND: RequestState
REQUEST_STATE_ALLOCATED: RequestState
REQUEST_STATE_REJECTED: RequestState
REQUEST_STATE_WITHDRAWN: RequestState

class RequestSpec(_message.Message):
    __slots__ = ("title", "org", "category", "gpus", "runtime_slots", "earliest_slot", "deadline_slot", "countries", "merit", "entrypoint", "runtime_env", "runtime_hours", "earliest", "deadline")
    class RuntimeSlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RuntimeHoursEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_SLOTS_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_SLOT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_SLOT_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_FIELD_NUMBER: _ClassVar[int]
    MERIT_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ENV_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_HOURS_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    title: str
    org: str
    category: str
    gpus: int
    runtime_slots: _containers.ScalarMap[str, int]
    earliest_slot: int
    deadline_slot: int
    countries: _containers.RepeatedScalarFieldContainer[str]
    merit: float
    entrypoint: str
    runtime_env: _struct_pb2.Struct
    runtime_hours: _containers.ScalarMap[str, float]
    earliest: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, title: _Optional[str] = ..., org: _Optional[str] = ..., category: _Optional[str] = ..., gpus: _Optional[int] = ..., runtime_slots: _Optional[_Mapping[str, int]] = ..., earliest_slot: _Optional[int] = ..., deadline_slot: _Optional[int] = ..., countries: _Optional[_Iterable[str]] = ..., merit: _Optional[float] = ..., entrypoint: _Optional[str] = ..., runtime_env: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., runtime_hours: _Optional[_Mapping[str, float]] = ..., earliest: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubmitRequestRequest(_message.Message):
    __slots__ = ("idempotency_key", "spec")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    spec: RequestSpec
    def __init__(self, idempotency_key: _Optional[str] = ..., spec: _Optional[_Union[RequestSpec, _Mapping]] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("page", "org", "state", "category", "round_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    org: str
    state: RequestState
    category: str
    round_id: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., org: _Optional[str] = ..., state: _Optional[_Union[RequestState, str]] = ..., category: _Optional[str] = ..., round_id: _Optional[str] = ...) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AllocationRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[AllocationRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AmendRequestRequest(_message.Message):
    __slots__ = ("request_id", "spec", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: RequestSpec
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[RequestSpec, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawRequestRequest(_message.Message):
    __slots__ = ("request_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AllocationRequest(_message.Message):
    __slots__ = ("request_id", "spec", "state", "round_id", "idempotency_key", "submitted_at", "updated_at", "version", "waiting", "notes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: RequestSpec
    state: RequestState
    round_id: str
    idempotency_key: str
    submitted_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: int
    waiting: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[RequestSpec, _Mapping]] = ..., state: _Optional[_Union[RequestState, str]] = ..., round_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., waiting: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...
