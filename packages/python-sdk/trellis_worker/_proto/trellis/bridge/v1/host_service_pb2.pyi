from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallHostToolRequest(_message.Message):
    __slots__ = ("tool", "payload", "session_id", "call_id", "worker_pid")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    tool: str
    payload: _common_pb2.Payload
    session_id: str
    call_id: str
    worker_pid: int
    def __init__(self, tool: _Optional[str] = ..., payload: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., session_id: _Optional[str] = ..., call_id: _Optional[str] = ..., worker_pid: _Optional[int] = ...) -> None: ...

class CallHostToolResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.Payload
    def __init__(self, result: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("records", "worker_pid", "dropped")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[LogRecord]
    worker_pid: int
    dropped: int
    def __init__(self, records: _Optional[_Iterable[_Union[LogRecord, _Mapping]]] = ..., worker_pid: _Optional[int] = ..., dropped: _Optional[int] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("level", "level_name", "logger", "message", "time_unix_ms", "call_id", "session_id", "tool", "traceback")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_NAME_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    level: int
    level_name: str
    logger: str
    message: str
    time_unix_ms: float
    call_id: str
    session_id: str
    tool: str
    traceback: str
    def __init__(self, level: _Optional[int] = ..., level_name: _Optional[str] = ..., logger: _Optional[str] = ..., message: _Optional[str] = ..., time_unix_ms: _Optional[float] = ..., call_id: _Optional[str] = ..., session_id: _Optional[str] = ..., tool: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class LogResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
