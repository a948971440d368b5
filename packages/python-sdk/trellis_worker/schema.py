"""Type hints -> JSON Schema, and validation of call arguments against that same schema.

``spec_for(annotation)`` turns a type hint into a ``Spec`` node. A node does two things that must
agree: ``schema()`` is the JSON Schema the host sees in Describe, and ``convert(value, path)``
checks a decoded JSON value against that schema (raising ValidationError with the field path) and
turns it into what the Python function expects (a dataclass instance, bytes, an Enum member).
Building both from one tree is what keeps the published schema and the enforced one identical.

Supported: Any/unannotated, bool, int, float, str, bytes, None, Literal[...], Enum, list[X],
tuple[X, ...], dict[str, X], Optional[X] / X | None, Union[...], Annotated[X, "description"],
TypedDict and dataclasses (nested freely).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .errors import ToolDefinitionError, ValidationError

# TypedDict's Required[X] / NotRequired[X] (Python >= 3.11) only affect which keys are required.
_REQUIRED_MARKERS = tuple(getattr(typing, n) for n in ("Required", "NotRequired") if hasattr(typing, n))
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MISSING = object()


def join_path(path: str, key: str) -> str:
    """``items[2]`` + ``name`` -> ``items[2].name``; keys that are not identifiers are quoted."""
    part = key if _IDENT.match(key) else f"[{json.dumps(key)}]"
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"


def under(prefix: str, rel: str) -> str:
    """The path ``rel`` (relative to the value at ``prefix``) as seen from the outside."""
    if not rel:
        return prefix
    if not prefix:
        return rel
    return f"{prefix}{rel}" if rel.startswith("[") else f"{prefix}.{rel}"


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Spec:
    """One node of a parameter type."""

    #: Short name used in "expected X, got Y" messages.
    label = "value"

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def convert(self, value: Any, path: str = "") -> Any:
        """Checks ``value`` against this node's schema and converts it; raises ValidationError
        naming the offending field, below ``path``."""
        try:
            return self._conv(value)
        except ValidationError as exc:
            if not path:
                raise
            raise ValidationError(under(path, exc.field_path), exc.problem) from None

    def _conv(self, value: Any) -> Any:
        """``convert`` with error paths relative to this value. The path of a failure is built
        only when there is one (a container adds its key as the error passes up), so a call whose
        arguments are valid pays nothing for it."""
        raise NotImplementedError

    def _mismatch(self, value: Any) -> ValidationError:
        return ValidationError("", f"expected {self.label}, got {json_type_name(value)}")


class AnySpec(Spec):
    label = "any value"

    def schema(self) -> dict[str, Any]:
        return {}

    def _conv(self, value: Any) -> Any:
        return value


class _JsonTypeSpec(Spec):
    """A node whose schema is one JSON type and nothing more: its label is that type."""

    def schema(self) -> dict[str, Any]:
        return {"type": self.label}


class _ExactSpec(_JsonTypeSpec):
    """A JSON type that is exactly one Python type, taken as it is."""

    py_type: type = object

    def _conv(self, value: Any) -> Any:
        if isinstance(value, self.py_type):
            return value
        raise self._mismatch(value)


class BoolSpec(_ExactSpec):
    label = "boolean"
    py_type = bool


class IntSpec(_JsonTypeSpec):
    label = "integer"

    def _conv(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # JSON has one number type: 3.0 is a valid integer there (JSON.stringify never writes it,
        # but other encoders do).
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self._mismatch(value)


class FloatSpec(_JsonTypeSpec):
    label = "number"

    def _conv(self, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise self._mismatch(value)


class StrSpec(_ExactSpec):
    label = "string"
    py_type = str


class BytesSpec(Spec):
    """Raw bytes: sent untouched as an "application/octet-stream" payload. Inside JSON arguments
    (where bytes cannot travel) the value is a base64 string, as the schema says."""

    label = "bytes (base64 string in JSON)"

    def __init__(self, view: bool = False) -> None:
        #: A ``memoryview`` parameter: the value is handed over as a view, never copied (for a
        #: shared-memory payload that is a view of the mapping; see shm.py and @tool(zero_copy=True)).
        self.view = view

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/octet-stream"}

    def _conv(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            if self.view:
                return value if isinstance(value, memoryview) else memoryview(value)
            return bytes(value) if not isinstance(value, bytes) else value
        if isinstance(value, str):
            try:
                raw = base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValidationError("", f"expected a base64 string for bytes: {exc}") from None
            return memoryview(raw) if self.view else raw
        raise self._mismatch(value)


class ArrowSpec(BytesSpec):
    """A pyarrow Table or RecordBatch parameter: the payload is an Arrow IPC stream, read in place
    (a view of the caller's bytes or of the shared-memory mapping; see arrow.py)."""

    label = "Arrow IPC stream"

    def __init__(self, kind: str) -> None:
        super().__init__(view=True)
        self.kind = kind

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/vnd.apache.arrow.stream"}

    def _conv(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            from .arrow import read_table

            try:
                return read_table(value, self.kind)
            except (ValueError, OSError) as exc:  # ArrowInvalid, or OSError for a bad flatbuffer
                raise ValidationError("", f"expected an Arrow IPC stream: {exc}") from None
        raise self._mismatch(value)


class NoneSpec(_ExactSpec):
    label = "null"
    py_type = type(None)


class LiteralSpec(Spec):
    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values
        self.label = "one of " + ", ".join(json.dumps(v) for v in values)

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}

    def _conv(self, value: Any) -> Any:
        # Compare type as well as value: True == 1 in Python but not in JSON Schema.
        for v in self.values:
            if type(v) is type(value) and v == value:
                return v
        raise ValidationError("", f"expected {self.label}, got {json.dumps(value, default=repr)}")


class EnumSpec(Spec):
    def __init__(self, cls: type[enum.Enum]) -> None:
        self.cls = cls
        self.inner = LiteralSpec(tuple(m.value for m in cls))
        self.label = self.inner.label

    def schema(self) -> dict[str, Any]:
        return self.inner.schema()

    def _conv(self, value: Any) -> Any:
        return self.cls(self.inner._conv(value))


class _ContainerSpec(Spec):
    """An array or an object whose elements all have one spec (list[X], tuple[X, ...], dict[str, X]).

    Both publish their element's schema under one key and convert element by element, an element's
    error prefixed with its place; only the JSON type, that key and the place's spelling differ.
    """

    _inner_key: str

    def __init__(self, element: Spec) -> None:
        self.element = element

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.label}
        inner = self.element.schema()
        if inner:
            out[self._inner_key] = inner
        return out

    def _conv_each(self, entries: Iterable[tuple[Any, Any]], place: Callable[[Any], str]) -> Iterator[Any]:
        """The element spec's conversion of each (key, value); ``place(key)`` only when one fails."""
        conv = self.element._conv
        for key, v in entries:
            try:
                yield conv(v)
            except ValidationError as exc:
                raise ValidationError(under(place(key), exc.field_path), exc.problem) from None


class ListSpec(_ContainerSpec):
    label = "array"
    _inner_key = "items"

    def __init__(self, item: Spec, as_tuple: bool = False) -> None:
        super().__init__(item)
        self.as_tuple = as_tuple

    def _conv(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise self._mismatch(value)
        items = self._conv_each(enumerate(value), lambda i: f"[{i}]")
        return tuple(items) if self.as_tuple else list(items)


class MapSpec(_ContainerSpec):
    """dict[str, X]: an object with arbitrary keys."""

    label = "object"
    _inner_key = "additionalProperties"

    def _conv(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise self._mismatch(value)
        return dict(zip(value, self._conv_each(value.items(), lambda k: join_path("", k)), strict=True))


class OptionalSpec(Spec):
    def __init__(self, inner: Spec) -> None:
        self.inner = inner
        self.label = f"{inner.label} or null"

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.schema(), {"type": "null"}]}

    def _conv(self, value: Any) -> Any:
        return None if value is None else self.inner._conv(value)


class UnionSpec(Spec):
    def __init__(self, options: list[Spec]) -> None:
        self.options = options
        self.label = " or ".join(o.label for o in options)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [o.schema() for o in self.options]}

    def _conv(self, value: Any) -> Any:
        errors: list[ValidationError] = []
        for option in self.options:
            try:
                return option._conv(value)
            except ValidationError as exc:
                errors.append(exc)
        # An error below this value means some option matched the value's shape and failed deeper
        # (e.g. a field of one of two object types): that is the more useful message.
        deeper = [e for e in errors if e.field_path]
        if deeper:
            raise max(deeper, key=lambda e: len(e.field_path))
        raise self._mismatch(value)


class Field:
    """One field of an ObjectSpec (a parameter of a tool, a key of a TypedDict, a dataclass field)."""

    __slots__ = ("name", "spec", "required", "default", "description")

    def __init__(self, name: str, spec: Spec, required: bool, default: Any = MISSING, description: str = "") -> None:
        self.name = name
        self.spec = spec
        self.required = required
        self.default = default
        self.description = description


class ObjectSpec(Spec):
    """An object with known fields: a TypedDict, a dataclass, or a tool's whole argument object."""

    label = "object"

    def __init__(
        self,
        fields: list[Field],
        build: Callable[[dict[str, Any]], Any] | None = None,
        extra: Spec | None = None,
        noun: str = "field",
        description: str = "",
    ) -> None:
        self.fields = {f.name: f for f in fields}
        # Compiled once: each field's checker, and the required names.
        self._convs = {f.name: f.spec._conv for f in fields}
        self._required = tuple(f.name for f in fields if f.required)
        self.build = build
        self.extra = extra  # spec of undeclared keys (a **kwargs tool), or None to reject them
        self.noun = noun
        self.description = description

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f in self.fields.values():
            prop = dict(f.spec.schema())
            if f.description:
                prop["description"] = f.description
            if f.default is not MISSING and _is_json_value(f.default):
                prop["default"] = json.loads(json.dumps(f.default))  # tuples -> lists
            props[f.name] = prop
        out: dict[str, Any] = {"type": "object", "properties": props}
        required = [f.name for f in self.fields.values() if f.required]
        if required:
            out["required"] = required
        out["additionalProperties"] = False if self.extra is None else (self.extra.schema() or True)
        if self.description:
            out["description"] = self.description
        return out

    def _conv(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise self._mismatch(value)
        convs = self._convs
        out: dict[str, Any] = {}
        for key, v in value.items():
            conv = convs.get(key)
            if conv is None:
                if self.extra is None:
                    known = ", ".join(self.fields) or "none"
                    raise ValidationError(join_path("", key), f"unknown {self.noun} (expected: {known})")
                conv = self.extra._conv
            try:
                out[key] = conv(v)
            except ValidationError as exc:
                raise ValidationError(under(join_path("", key), exc.field_path), exc.problem) from None
        for name in self._required:
            if name not in out:
                raise ValidationError(join_path("", name), f"missing required {self.noun}")
        return out if self.build is None else self.build(out)


def _is_json_value(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _description_of(metadata: tuple[Any, ...]) -> str:
    return next((m for m in metadata if isinstance(m, str)), "")


def _typeddict_spec(cls: type) -> ObjectSpec:
    hints = typing.get_type_hints(cls, include_extras=True)
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    fields = []
    for name, hint in hints.items():
        # __required_keys__ misses NotRequired[...] written as a string (from __future__ import
        # annotations), so the resolved hint has the last word.
        marker = typing.get_origin(hint)
        if marker in _REQUIRED_MARKERS:
            required = marker is getattr(typing, "Required", None)
        else:
            required = name in required_keys
        fields.append(
            Field(
                name,
                spec_for(hint, f"{cls.__name__}.{name}"),
                required,
                description=_annotated_description(hint),
            )
        )
    return ObjectSpec(fields, description=(cls.__doc__ or "").strip().split("\n\n")[0])


def _dataclass_spec(cls: type) -> ObjectSpec:
    import dataclasses  # only for tools that take dataclasses (which imported it already)

    hints = typing.get_type_hints(cls, include_extras=True)
    fields = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else MISSING
        hint = hints.get(f.name, Any)
        fields.append(
            Field(
                f.name,
                spec_for(hint, f"{cls.__name__}.{f.name}"),
                not has_default,
                default,
                _annotated_description(hint),
            )
        )
    doc = cls.__doc__ or ""
    # dataclasses generate "Name(a: int, ...)" as __doc__ when there is none: not a description.
    description = "" if doc.startswith(f"{cls.__name__}(") else doc.strip().split("\n\n")[0]
    return ObjectSpec(fields, build=lambda d: cls(**d), description=description)


def _annotated_description(hint: Any) -> str:
    while typing.get_origin(hint) in _REQUIRED_MARKERS:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is typing.Annotated:
        return _description_of(hint.__metadata__)
    return ""


def spec_for(hint: Any, where: str = "parameter") -> Spec:
    """The Spec of one type hint; ``where`` names it in the error raised for unsupported hints."""
    if hint is Any or hint is object:
        return AnySpec()
    if hint is None or hint is type(None):
        return NoneSpec()
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated or origin in _REQUIRED_MARKERS:
        return spec_for(args[0], where)
    if origin is typing.Literal:
        for v in args:
            if not isinstance(v, (str, int, bool, type(None))):
                raise ToolDefinitionError(f"{where}: Literal values must be str, int, bool or None, got {v!r}")
        return LiteralSpec(args)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        inner = spec_for(rest[0], where) if len(rest) == 1 else UnionSpec([spec_for(a, where) for a in rest])
        return OptionalSpec(inner) if len(rest) < len(args) else inner
    if origin in (list, typing.List) or hint in (list, typing.List):  # noqa: UP006
        return ListSpec(spec_for(args[0], where) if args else AnySpec())
    if origin is tuple or hint is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return ListSpec(spec_for(args[0], where) if args else AnySpec(), as_tuple=True)
        raise ToolDefinitionError(f"{where}: fixed-length tuples are not supported; use tuple[X, ...] or list[X]")
    if origin in (dict, typing.Dict, Mapping) or hint in (dict, typing.Dict):  # noqa: UP006
        if args and args[0] is not str:
            raise ToolDefinitionError(f"{where}: dict keys must be str (JSON object keys), got {args[0]!r}")
        return MapSpec(spec_for(args[1], where) if args else AnySpec())
    if isinstance(hint, type):
        if hint is bool:
            return BoolSpec()
        if hint is int:
            return IntSpec()
        if hint is float:
            return FloatSpec()
        if hint is str:
            return StrSpec()
        if hint in (bytes, bytearray):
            return BytesSpec()
        if hint is memoryview:
            return BytesSpec(view=True)
        if hint.__module__.startswith("pyarrow"):
            from .arrow import is_arrow_type

            kind = is_arrow_type(hint)
            if kind is not None:
                return ArrowSpec(kind)
        if issubclass(hint, enum.Enum):
            return EnumSpec(hint)
        if typing.is_typeddict(hint):
            return _typeddict_spec(hint)
        if hasattr(hint, "__dataclass_fields__"):  # dataclasses.is_dataclass, without the import
            return _dataclass_spec(hint)
    raise ToolDefinitionError(
        f"{where}: unsupported type annotation {hint!r}. Use bool, int, float, str, bytes, None, "
        "Literal, Enum, list[X], tuple[X, ...], dict[str, X], Optional/Union, a TypedDict or a dataclass "
        "(or leave it unannotated / Any to skip validation)"
    )
