from . import common_pb2 as _common_pb2
from . import host_service_pb2 as _host_service_pb2
from . import tool_service_pb2 as _tool_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LaneFrameKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANE_FRAME_KIND_UNSPECIFIED: _ClassVar[LaneFrameKind]
    LANE_HELLO: _ClassVar[LaneFrameKind]
    LANE_CALL: _ClassVar[LaneFrameKind]
    LANE_CANCEL: _ClassVar[LaneFrameKind]
    LANE_CREDIT: _ClassVar[LaneFrameKind]
    LANE_RESULT: _ClassVar[LaneFrameKind]
    LANE_ITEM: _ClassVar[LaneFrameKind]
    LANE_END: _ClassVar[LaneFrameKind]
    LANE_ERROR: _ClassVar[LaneFrameKind]
    LANE_HOST_CALL: _ClassVar[LaneFrameKind]
    LANE_HOST_CANCEL: _ClassVar[LaneFrameKind]
    LANE_HOST_RESULT: _ClassVar[LaneFrameKind]
    LANE_HOST_ERROR: _ClassVar[LaneFrameKind]
    LANE_HEARTBEAT: _ClassVar[LaneFrameKind]
    LANE_HEARTBEAT_ACK: _ClassVar[LaneFrameKind]
    LANE_RELEASE: _ClassVar[LaneFrameKind]
LANE_FRAME_KIND_UNSPECIFIED: LaneFrameKind
LANE_HELLO: LaneFrameKind
LANE_CALL: LaneFrameKind
LANE_CANCEL: LaneFrameKind
LANE_CREDIT: LaneFrameKind
LANE_RESULT: LaneFrameKind
LANE_ITEM: LaneFrameKind
LANE_END: LaneFrameKind
LANE_ERROR: LaneFrameKind
LANE_HOST_CALL: LaneFrameKind
LANE_HOST_CANCEL: LaneFrameKind
LANE_HOST_RESULT: LaneFrameKind
LANE_HOST_ERROR: LaneFrameKind
LANE_HEARTBEAT: LaneFrameKind
LANE_HEARTBEAT_ACK: LaneFrameKind
LANE_RELEASE: LaneFrameKind

class LaneCall(_message.Message):
    __slots__ = ("request", "timeout_ms", "stream", "credit", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    request: _tool_service_pb2.ExecuteRequest
    timeout_ms: float
    stream: bool
    credit: int
    headers: _containers.ScalarMap[str, str]
    def __init__(self, request: _Optional[_Union[_tool_service_pb2.ExecuteRequest, _Mapping]] = ..., timeout_ms: _Optional[float] = ..., stream: _Optional[bool] = ..., credit: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LaneError(_message.Message):
    __slots__ = ("code", "detail")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    code: int
    detail: _common_pb2.ErrorDetail
    def __init__(self, code: _Optional[int] = ..., detail: _Optional[_Union[_common_pb2.ErrorDetail, _Mapping]] = ...) -> None: ...

class LaneHostCall(_message.Message):
    __slots__ = ("request", "timeout_ms")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    request: _host_service_pb2.CallHostToolRequest
    timeout_ms: float
    def __init__(self, request: _Optional[_Union[_host_service_pb2.CallHostToolRequest, _Mapping]] = ..., timeout_ms: _Optional[float] = ...) -> None: ...
