"""Encoding of values as bridge Payloads (bytes + content type), both directions.

JSON is the default; bytes are passed through untouched as "application/octet-stream" (no base64,
no pickle); a tool that wants another content type returns ``Payload(data, "image/png")``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import TYPE_CHECKING, Any

from .constants import JSON, OCTET_STREAM
from .errors import ResultEncodingError, ValidationError

if TYPE_CHECKING:
    from .tool import ToolSpec


@dataclasses.dataclass(frozen=True)
class Payload:
    """A value with an explicit content type. Return it from a tool to label raw bytes yourself."""

    data: bytes
    content_type: str = OCTET_STREAM


def media_type(content_type: str) -> str:
    """ "application/json; charset=utf-8" -> "application/json"; "" -> "application/json"."""
    return content_type.split(";", 1)[0].strip().lower() or JSON


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_value(value: Any) -> tuple[bytes, str]:
    """A Python value -> (data, content_type). Raises ResultEncodingError for unencodable values."""
    if isinstance(value, bytes):
        return value, OCTET_STREAM
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value), OCTET_STREAM
    if isinstance(value, Payload):
        return bytes(value.data), value.content_type
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ResultEncodingError(
            f"value of type {type(value).__name__} cannot be sent as JSON ({exc}); return JSON-compatible "
            "data (dict, list, str, int, float, bool, None, dataclass), bytes, or trellis_worker.Payload"
        ) from None
    return text.encode("utf-8"), JSON


def decode_value(data: bytes, content_type: str) -> Any:
    """(data, content_type) -> a Python value: parsed JSON, or the bytes themselves."""
    if media_type(content_type) == JSON:
        return json.loads(data) if data else None
    return data


def decode_arguments(spec: ToolSpec, data: bytes, content_type: str) -> dict[str, Any]:
    """A request Payload -> validated keyword arguments for the tool (context not included)."""
    kind = media_type(content_type)
    if kind == JSON:
        if not data:
            raw: Any = {}
        else:
            try:
                raw = json.loads(data)
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
