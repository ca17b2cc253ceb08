import datetime

from scheduler.api.gen.allmende.v1 import common_pb2 as _common_pb2
from scheduler.api.gen.allmende.v1 import ledger_pb2 as _ledger_pb2
from scheduler.api.gen.allmende.v1 import rounds_pb2 as _rounds_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListExecutionsRequest(_message.Message):
    __slots__ = ("round_id", "page")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    page: _common_pb2.PageRequest
    def __init__(self, round_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("allocation_id", "round_id", "request_id", "org", "cluster_id", "gpu_type", "gpus", "state", "backend", "submission_id", "attempts", "window_start", "window_end", "submitted_at", "started_at", "ended_at", "message", "actual", "replan")
    ALLOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    REPLAN_FIELD_NUMBER: _ClassVar[int]
    allocation_id: str
    round_id: str
    request_id: str
    org: str
    cluster_id: str
    gpu_type: str
    gpus: int
    state: _rounds_pb2.AllocationState
    backend: str
    submission_id: str
    attempts: int
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    submitted_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    message: str
    actual: _ledger_pb2.Usage
    replan: bool
    def __init__(self, allocation_id: _Optional[str] = ..., round_id: _Optional[str] = ..., request_id: _Optional[str] = ..., org: _Optional[str] = ..., cluster_id: _Optional[str] = ..., gpu_type: _Optional[str] = ..., gpus: _Optional[int] = ..., state: _Optional[_Union[_rounds_pb2.AllocationState, str]] = ..., backend: _Optional[str] = ..., submission_id: _Optional[str] = ..., attempts: _Optional[int] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., actual: _Optional[_Union[_ledger_pb2.Usage, _Mapping]] = ..., replan: _Optional[bool] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
