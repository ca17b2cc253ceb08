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

class ClusterState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLUSTER_STATE_UNSPECIFIED: _ClassVar[ClusterState]
    CLUSTER_STATE_ACTIVE: _ClassVar[ClusterState]
    CLUSTER_STATE_STALE: _ClassVar[ClusterState]
    CLUSTER_STATE_RETIRED: _ClassVar[ClusterState]

class ExecutionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_KIND_UNSPECIFIED: _ClassVar[ExecutionKind]
    EXECUTION_KIND_RAY: _ClassVar[ExecutionKind]
    EXECUTION_KIND_KUBERAY: _ClassVar[ExecutionKind]
CLUSTER_STATE_UNSPECIFIED: ClusterState
CLUSTER_STATE_ACTIVE: ClusterState
CLUSTER_STATE_STALE: ClusterState
CLUSTER_STATE_RETIRED: ClusterState
EXECUTION_KIND_UNSPECIFIED: ExecutionKind
EXECUTION_KIND_RAY: ExecutionKind
EXECUTION_KIND_KUBERAY: ExecutionKind

class GpuPool(_message.Message):
    __slots__ = ("gpu_type", "count", "tdp_watts", "memory_gb")
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TDP_WATTS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GB_FIELD_NUMBER: _ClassVar[int]
    gpu_type: str
    count: int
    tdp_watts: float
    memory_gb: float
    def __init__(self, gpu_type: _Optional[str] = ..., count: _Optional[int] = ..., tdp_watts: _Optional[float] = ..., memory_gb: _Optional[float] = ...) -> None: ...

class RegisterClusterRequest(_message.Message):
    __slots__ = ("cluster_id", "operator", "country", "gpus", "power_cap_kw", "pue", "execution")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    POWER_CAP_KW_FIELD_NUMBER: _ClassVar[int]
    PUE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    operator: str
    country: str
    gpus: _containers.RepeatedCompositeFieldContainer[GpuPool]
    power_cap_kw: float
    pue: float
    execution: ExecutionTarget
    def __init__(self, cluster_id: _Optional[str] = ..., operator: _Optional[str] = ..., country: _Optional[str] = ..., gpus: _Optional[_Iterable[_Union[GpuPool, _Mapping]]] = ..., power_cap_kw: _Optional[float] = ..., pue: _Optional[float] = ..., execution: _Optional[_Union[ExecutionTarget, _Mapping]] = ...) -> None: ...

class ExecutionTarget(_message.Message):
    __slots__ = ("kind", "address", "context", "namespace")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    kind: ExecutionKind
    address: str
    context: str
    namespace: str
    def __init__(self, kind: _Optional[_Union[ExecutionKind, str]] = ..., address: _Optional[str] = ..., context: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class WithdrawnWindow(_message.Message):
    __slots__ = ("gpu_type", "gpus", "start", "end")
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    gpu_type: str
    gpus: int
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, gpu_type: _Optional[str] = ..., gpus: _Optional[int] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CarbonForecast(_message.Message):
    __slots__ = ("start", "step_minutes", "g_per_kwh")
    START_FIELD_NUMBER: _ClassVar[int]
    STEP_MINUTES_FIELD_NUMBER: _ClassVar[int]
    G_PER_KWH_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    step_minutes: int
    g_per_kwh: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_minutes: _Optional[int] = ..., g_per_kwh: _Optional[_Iterable[float]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Inventory(_message.Message):
    __slots__ = ("gpus", "withdrawn", "carbon", "gpu_power_w")
    class GpusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GpuPowerWEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    GPUS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    CARBON_FIELD_NUMBER: _ClassVar[int]
    GPU_POWER_W_FIELD_NUMBER: _ClassVar[int]
    gpus: _containers.ScalarMap[str, int]
    withdrawn: _containers.RepeatedCompositeFieldContainer[WithdrawnWindow]
    carbon: CarbonForecast
    gpu_power_w: _containers.ScalarMap[str, float]
    def __init__(self, gpus: _Optional[_Mapping[str, int]] = ..., withdrawn: _Optional[_Iterable[_Union[WithdrawnWindow, _Mapping]]] = ..., carbon: _Optional[_Union[CarbonForecast, _Mapping]] = ..., gpu_power_w: _Optional[_Mapping[str, float]] = ...) -> None: ...

class InventoryReport(_message.Message):
    __slots__ = ("cluster_id", "heartbeat", "inventory")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    heartbeat: Heartbeat
    inventory: Inventory
    def __init__(self, cluster_id: _Optional[str] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., inventory: _Optional[_Union[Inventory, _Mapping]] = ...) -> None: ...

class ReportInventoryResponse(_message.Message):
    __slots__ = ("reports", "cluster")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    reports: int
    cluster: Cluster
    def __init__(self, reports: _Optional[int] = ..., cluster: _Optional[_Union[Cluster, _Mapping]] = ...) -> None: ...

class ListClustersRequest(_message.Message):
    __slots__ = ("page", "state")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    state: ClusterState
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., state: _Optional[_Union[ClusterState, str]] = ...) -> None: ...

class ListClustersResponse(_message.Message):
    __slots__ = ("clusters", "next_page_token")
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    next_page_token: str
    def __init__(self, clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetClusterRequest(_message.Message):
    __slots__ = ("cluster_id",)
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    def __init__(self, cluster_id: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_id", "operator", "country", "gpus", "power_cap_kw", "pue", "state", "registered_at", "last_heartbeat", "inventory", "version", "execution")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    POWER_CAP_KW_FIELD_NUMBER: _ClassVar[int]
    PUE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    operator: str
    country: str
    gpus: _containers.RepeatedCompositeFieldContainer[GpuPool]
    power_cap_kw: float
    pue: float
    state: ClusterState
    registered_at: _timestamp_pb2.Timestamp
    last_heartbeat: _timestamp_pb2.Timestamp
    inventory: Inventory
    version: int
    execution: ExecutionTarget
    def __init__(self, cluster_id: _Optional[str] = ..., operator: _Optional[str] = ..., country: _Optional[str] = ..., gpus: _Optional[_Iterable[_Union[GpuPool, _Mapping]]] = ..., power_cap_kw: _Optional[float] = ..., pue: _Optional[float] = ..., state: _Optional[_Union[ClusterState, str]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., inventory: _Optional[_Union[Inventory, _Mapping]] = ..., version: _Optional[int] = ..., execution: _Optional[_Union[ExecutionTarget, _Mapping]] = ...) -> None: ...
