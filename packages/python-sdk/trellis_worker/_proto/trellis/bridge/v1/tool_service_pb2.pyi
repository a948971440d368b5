from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "protocol", "sdk_version", "run_id", "pid")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[HealthResponse.Status]
        SERVING: _ClassVar[HealthResponse.Status]
        DRAINING: _ClassVar[HealthResponse.Status]
    STATUS_UNSPECIFIED: HealthResponse.Status
    SERVING: HealthResponse.Status
    DRAINING: HealthResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    status: HealthResponse.Status
    protocol: str
    sdk_version: str
    run_id: str
    pid: int
    def __init__(self, status: _Optional[_Union[HealthResponse.Status, str]] = ..., protocol: _Optional[str] = ..., sdk_version: _Optional[str] = ..., run_id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("tools", "protocol", "sdk_version", "python_version", "pid", "run_id", "concurrency", "max_message_bytes")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[ToolInfo]
    protocol: str
    sdk_version: str
    python_version: str
    pid: int
    run_id: str
    concurrency: int
    max_message_bytes: int
    def __init__(self, tools: _Optional[_Iterable[_Union[ToolInfo, _Mapping]]] = ..., protocol: _Optional[str] = ..., sdk_version: _Optional[str] = ..., python_version: _Optional[str] = ..., pid: _Optional[int] = ..., run_id: _Optional[str] = ..., concurrency: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class ToolInfo(_message.Message):
    __slots__ = ("name", "description", "parameters_json_schema", "streaming", "raw_bytes_parameter", "idempotent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STREAMING_FIELD_NUMBER: _ClassVar[int]
    RAW_BYTES_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters_json_schema: str
    streaming: bool
    raw_bytes_parameter: str
    idempotent: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters_json_schema: _Optional[str] = ..., streaming: _Optional[bool] = ..., raw_bytes_parameter: _Optional[str] = ..., idempotent: _Optional[bool] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("tool", "payload", "call_id", "session_id", "deadline_unix_ms", "idempotent", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOOL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    tool: str
    payload: _common_pb2.Payload
    call_id: str
    session_id: str
    deadline_unix_ms: int
    idempotent: bool
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, tool: _Optional[str] = ..., payload: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., call_id: _Optional[str] = ..., session_id: _Optional[str] = ..., deadline_unix_ms: _Optional[int] = ..., idempotent: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("result", "duration_us", "telemetry")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.Payload
    duration_us: int
    telemetry: ToolTelemetry
    def __init__(self, result: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., duration_us: _Optional[int] = ..., telemetry: _Optional[_Union[ToolTelemetry, _Mapping]] = ...) -> None: ...

class ExecuteStreamResponse(_message.Message):
    __slots__ = ("item", "index", "telemetry")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    item: _common_pb2.Payload
    index: int
    telemetry: ToolTelemetry
    def __init__(self, item: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., index: _Optional[int] = ..., telemetry: _Optional[_Union[ToolTelemetry, _Mapping]] = ...) -> None: ...

class ToolTelemetry(_message.Message):
    __slots__ = ("metrics", "spans")
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.RepeatedCompositeFieldContainer[ToolMetric]
    spans: _containers.RepeatedCompositeFieldContainer[ToolSpan]
    def __init__(self, metrics: _Optional[_Iterable[_Union[ToolMetric, _Mapping]]] = ..., spans: _Optional[_Iterable[_Union[ToolSpan, _Mapping]]] = ...) -> None: ...

class ToolMetric(_message.Message):
    __slots__ = ("name", "value", "kind", "attributes", "unit")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    kind: str
    attributes: _containers.ScalarMap[str, str]
    unit: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., kind: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., unit: _Optional[str] = ...) -> None: ...

class ToolSpan(_message.Message):
    __slots__ = ("id", "parent_id", "name", "start_unix_ms", "end_unix_ms", "attributes", "error")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    parent_id: int
    name: str
    start_unix_ms: float
    end_unix_ms: float
    attributes: _containers.ScalarMap[str, str]
    error: str
    def __init__(self, id: _Optional[int] = ..., parent_id: _Optional[int] = ..., name: _Optional[str] = ..., start_unix_ms: _Optional[float] = ..., end_unix_ms: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("seq", "stats")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    stats: WorkerStats
    def __init__(self, seq: _Optional[int] = ..., stats: _Optional[_Union[WorkerStats, _Mapping]] = ...) -> None: ...

class WorkerStats(_message.Message):
    __slots__ = ("pid", "rss_bytes", "in_flight", "calls_served", "calls_failed", "sessions", "uptime_ms", "abandoned")
    PID_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    CALLS_SERVED_FIELD_NUMBER: _ClassVar[int]
    CALLS_FAILED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    pid: int
    rss_bytes: int
    in_flight: int
    calls_served: int
    calls_failed: int
    sessions: int
    uptime_ms: int
    abandoned: int
    def __init__(self, pid: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., in_flight: _Optional[int] = ..., calls_served: _Optional[int] = ..., calls_failed: _Optional[int] = ..., sessions: _Optional[int] = ..., uptime_ms: _Optional[int] = ..., abandoned: _Optional[int] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class EndSessionResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class OpenLaneRequest(_message.Message):
    __slots__ = ("shm_prefix", "shm_threshold_bytes", "max_shm_bytes", "host_calls", "memfd_results")
    SHM_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SHM_THRESHOLD_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SHM_BYTES_FIELD_NUMBER: _ClassVar[int]
    HOST_CALLS_FIELD_NUMBER: _ClassVar[int]
    MEMFD_RESULTS_FIELD_NUMBER: _ClassVar[int]
    shm_prefix: str
    shm_threshold_bytes: int
    max_shm_bytes: int
    host_calls: bool
    memfd_results: bool
    def __init__(self, shm_prefix: _Optional[str] = ..., shm_threshold_bytes: _Optional[int] = ..., max_shm_bytes: _Optional[int] = ..., host_calls: _Optional[bool] = ..., memfd_results: _Optional[bool] = ...) -> None: ...

class OpenLaneResponse(_message.Message):
    __slots__ = ("path", "token", "heartbeats")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    path: str
    token: bytes
    heartbeats: bool
    def __init__(self, path: _Optional[str] = ..., token: _Optional[bytes] = ..., heartbeats: _Optional[bool] = ...) -> None: ...
