from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Payload(_message.Message):
    __slots__ = ("data", "content_type", "shm")
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHM_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    shm: SharedSegment
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., shm: _Optional[_Union[SharedSegment, _Mapping]] = ...) -> None: ...

class SharedSegment(_message.Message):
    __slots__ = ("name", "size", "fd")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    fd: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., fd: _Optional[int] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("error_type", "message", "traceback", "tool", "field_path", "available_tools")
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    FIELD_PATH_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_TOOLS_FIELD_NUMBER: _ClassVar[int]
    error_type: str
    message: str
    traceback: str
    tool: str
    field_path: str
    available_tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, error_type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., tool: _Optional[str] = ..., field_path: _Optional[str] = ..., available_tools: _Optional[_Iterable[str]] = ...) -> None: ...
