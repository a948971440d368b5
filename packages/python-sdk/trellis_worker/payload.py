"""Encoding of values as bridge Payloads (bytes + content type), both directions.

JSON is the default; bytes are passed through untouched as "application/octet-stream" (no base64,
no pickle); a tool that wants another content type returns ``Payload(data, "image/png")``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .constants import JSON, OCTET_STREAM
from .errors import ResultEncodingError, ValidationError

if TYPE_CHECKING:
    from .tool import ToolSpec


class Payload:
    """A value with an explicit content type. Return it from a tool to label raw bytes yourself.

    Read-only, compared by value (like a frozen dataclass, which it is not: building one costs
    about a millisecond of every worker's start)."""

    __slots__ = ("data", "content_type")
    data: bytes
    content_type: str

    def __init__(self, data: bytes, content_type: str = OCTET_STREAM) -> None:
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "content_type", content_type)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Payload is read-only (cannot set {key!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Payload):
            return NotImplemented
        return self.data == other.data and self.content_type == other.content_type

    def __hash__(self) -> int:
        return hash((self.data, self.content_type))

    def __repr__(self) -> str:
        return f"Payload(data={self.data!r}, content_type={self.content_type!r})"


def media_type(content_type: str) -> str:
    """ "application/json; charset=utf-8" -> "application/json"; "" -> "application/json"."""
    return content_type.split(";", 1)[0].strip().lower() or JSON


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses  # already loaded by whoever made the dataclass

        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
_DECODE = json.JSONDecoder().decode


def _loads(data: bytes) -> Any:
    """json.loads for the usual UTF-8 payload without its encoding detection; anything else (a BOM,
    UTF-16/32, invalid JSON) goes through json.loads itself, for its exact result or error."""
    try:
        return _DECODE(data.decode())
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return json.loads(data)


def encode_value(value: Any, alloc: Callable[[int], memoryview] | None = None) -> tuple[bytes | memoryview, str]:
    """A Python value -> (data, content_type). Raises ResultEncodingError for unencodable values.

    ``data`` is a ``memoryview`` (not copied) only for a buffer over a shared-memory segment
    (``ctx.shared_buffer``), which the call lane sends by name; the gRPC path turns it into bytes.
    ``alloc`` (the call's ``ctx.shared_buffer``) is where a pyarrow table's IPC stream is written."""
    if isinstance(value, bytes):
        return value, OCTET_STREAM
    if type(value).__module__.startswith("pyarrow"):
        from .arrow import ARROW_STREAM, is_arrow_value, write_table

        if is_arrow_value(value):
            data = write_table(value, alloc)
            return (_buffer(data) if isinstance(data, memoryview) else data), ARROW_STREAM
    if isinstance(value, (bytearray, memoryview)):
        return _buffer(memoryview(value)), OCTET_STREAM
    if isinstance(value, Payload):
        return bytes(value.data), value.content_type
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        try:
            view = memoryview(value)  # a NumPy array, a pyarrow Buffer: its raw bytes
        except TypeError:
            view = None
        if view is not None:
            return _buffer(view), OCTET_STREAM
        raise ResultEncodingError(
            f"value of type {type(value).__name__} cannot be sent as JSON ({exc}); return JSON-compatible "
            "data (dict, list, str, int, float, bool, None, dataclass), bytes, or trellis_worker.Payload"
        ) from None
    return text.encode("utf-8"), JSON


def _buffer(view: memoryview) -> bytes | memoryview:
    # Late import: shm.py is needed only by workers that get large payloads.
    from .shm import segment_of

    if segment_of(view) is not None and view.c_contiguous:
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    return view.tobytes()


def decode_value(data: bytes, content_type: str) -> Any:
    """(data, content_type) -> a Python value: parsed JSON, or the bytes themselves."""
    if media_type(content_type) == JSON:
        return _loads(data) if data else None
    return data


def decode_arguments(spec: ToolSpec, data: bytes | memoryview, content_type: str) -> dict[str, Any]:
    """A request Payload -> validated keyword arguments for the tool (context not included).
    ``data`` is a memoryview for arguments that came in shared memory (call lane)."""
    kind = media_type(content_type)
    if kind == JSON:
        if isinstance(data, memoryview):
            data = data.tobytes()
        if not data:
            raw: Any = {}
        else:
            try:
                raw = _loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValidationError("", f"arguments are not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValidationError("", f"arguments must be a JSON object of named parameters, got {type(raw).__name__}")
        return spec.params.convert(raw, "")
    if spec.raw_bytes_param is None:
        raise ValidationError(
            "",
            f"tool {spec.name!r} cannot take a raw {kind!r} payload (it needs exactly one bytes parameter and "
            "no other required one); send its arguments as application/json",
        )
    return spec.params.convert({spec.raw_bytes_param: data}, "")
