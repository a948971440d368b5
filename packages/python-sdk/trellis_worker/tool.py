"""The @tool decorator: turns a function's signature and docstring into a served tool.

The decorated function is returned unchanged (still callable directly, e.g. in unit tests); the
decorator only attaches a ToolSpec as ``fn.__trellis_tool__`` for the worker to find.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, overload

from .context import ToolContext
from .docstrings import parse_docstring
from .errors import ToolDefinitionError
from .schema import MISSING, AnySpec, BytesSpec, Field, ObjectSpec, OptionalSpec, spec_for

F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["sync", "async", "generator", "async_generator"]
CONTEXT_PARAM_NAMES = ("ctx",)
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class ToolSpec:
    """What the worker knows of one tool (read-only). A plain class rather than a dataclass:
    building a dataclass costs about a millisecond of every worker's start."""

    __slots__ = (
        "name",
        "description",
        "fn",
        "kind",
        "params",
        "context_param",
        "raw_bytes_param",
        "idempotent",
        "zero_copy",
        "schema",
        "schema_json",
        "signature",
        "streaming",
    )
    name: str
    description: str
    fn: Callable[..., Any]
    kind: Kind
    params: ObjectSpec
    context_param: str | None
    raw_bytes_param: str | None
    idempotent: bool
    #: @tool(zero_copy=True): its memoryview parameter views shared memory, its buffers go back uncopied.
    zero_copy: bool
    schema: dict[str, Any]
    schema_json: str
    signature: inspect.Signature
    #: A generator tool (call it with ExecuteStream).
    streaming: bool

    def __init__(
        self,
        *,
        name: str,
        description: str,
        fn: Callable[..., Any],
        kind: Kind,
        params: ObjectSpec,
        context_param: str | None,
        raw_bytes_param: str | None,
        idempotent: bool,
        schema: dict[str, Any],
        schema_json: str,
        signature: inspect.Signature,
        zero_copy: bool = False,
    ) -> None:
        values = dict(locals())
        del values["self"]
        values["streaming"] = kind in ("generator", "async_generator")
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"ToolSpec is read-only (cannot set {key!r})")

    def __repr__(self) -> str:
        return f"ToolSpec(name={self.name!r}, kind={self.kind!r}, idempotent={self.idempotent!r})"

    def bind(self, arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """The keyword arguments of one call: validated arguments plus the context.

        No ``Signature.bind`` per call: the validated arguments already fit the signature (every
        parameter is keyword-capable, which build_tool_spec enforces; unknown names are refused and
        required ones checked by ``params.convert``), so they are passed as keywords as they are.
        """
        if self.context_param:
            arguments[self.context_param] = ctx
        return arguments


def _is_context(hint: Any) -> bool:
    """ToolContext, or Optional[ToolContext] (what `ctx: ToolContext = None` means on Python 3.10)."""
    if hint is ToolContext:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(a is ToolContext for a in typing.get_args(hint))
    return False


def _kind_of(fn: Callable[..., Any]) -> Kind:
    if inspect.isasyncgenfunction(fn):
        return "async_generator"
    if inspect.iscoroutinefunction(fn):
        return "async"
    if inspect.isgeneratorfunction(fn):
        return "generator"
    return "sync"


def build_tool_spec(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    zero_copy: bool = False,
) -> ToolSpec:
    if not callable(fn):
        raise ToolDefinitionError(f"@tool needs a function, got {fn!r}")
    tool_name = name or fn.__name__
    if not TOOL_NAME.match(tool_name):
        raise ToolDefinitionError(
            f"tool name {tool_name!r} must start with a letter or '_' and hold only letters, digits, '_', '-', '.'"
        )
    summary, param_docs = parse_docstring(inspect.getdoc(fn))
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolvable forward reference
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve its type hints: {exc}") from exc

    fields: list[Field] = []
    context_param: str | None = None
    extra = None
    for p in signature.parameters.values():
        hint = hints.get(p.name, Any)
        where = f"tool {tool_name!r} parameter {p.name!r}"
        if _is_context(hint) or (p.name in CONTEXT_PARAM_NAMES and p.name not in hints):
            if context_param is not None:
                raise ToolDefinitionError(f"tool {tool_name!r} takes two context parameters: {context_param}, {p.name}")
            context_param = p.name
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            raise ToolDefinitionError(f"{where}: *args cannot be sent as named arguments; use a list parameter")
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolDefinitionError(f"{where}: positional-only parameters are not supported; drop the '/'")
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            extra = spec_for(hint, where) if p.name in hints else AnySpec()
            continue
        has_default = p.default is not inspect.Parameter.empty
        fields.append(
            Field(
                p.name,
                spec_for(hint, where),
                required=not has_default,
                default=p.default if has_default else MISSING,
                description=param_docs.get(p.name, ""),
            )
        )
    params = ObjectSpec(fields, extra=extra, noun="parameter")

    def is_bytes(spec: Any) -> bool:
        return isinstance(spec, BytesSpec) or (isinstance(spec, OptionalSpec) and isinstance(spec.inner, BytesSpec))

    byte_params = [f.name for f in fields if is_bytes(f.spec)]
    others_required = [f.name for f in fields if f.required and f.name not in byte_params]
    # A raw (octet-stream) payload carries exactly one value, so it can only feed a tool whose one
    # bytes parameter is the only thing it needs.
    raw = byte_params[0] if len(byte_params) == 1 and not others_required else None
    if zero_copy and byte_params:
        # A zero-copy tool's bytes arrive as a view: its annotation must say so (bytes would lie).
        field = next(f for f in fields if f.name == byte_params[0])
        inner = field.spec.inner if isinstance(field.spec, OptionalSpec) else field.spec
        if len(byte_params) > 1 or not (isinstance(inner, BytesSpec) and inner.view):
            raise ToolDefinitionError(
                f"@tool(zero_copy=True) on {fn.__qualname__}: annotate its one raw-bytes parameter as memoryview "
                "(it receives a read-only view of the caller's bytes, not a copy), e.g. `def f(data: memoryview)`"
            )
    schema = params.schema()
    return ToolSpec(
        name=tool_name,
        description=description if description is not None else summary,
        fn=fn,
        kind=_kind_of(fn),
        params=params,
        context_param=context_param,
        raw_bytes_param=raw,
        idempotent=idempotent,
        zero_copy=zero_copy,
        schema=schema,
        schema_json=json.dumps(schema, separators=(",", ":")),
        signature=signature,
    )


_SPEC_OPTIONS = inspect.signature(build_tool_spec)


@overload
def tool(fn: F) -> F: ...
@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    zero_copy: bool = False,
) -> Callable[[F], F]: ...


def tool(fn: Any = None, **options: Any) -> Any:
    """Marks a function as a tool. Use as ``@tool`` or ``@tool(name=..., description=..., idempotent=True)``.

    Sync and async functions, generators and async generators (streaming tools) are all accepted.
    The parameter annotated ``ToolContext`` (or named ``ctx``) receives the call's context.

    ``zero_copy=True`` is for large binary data (images, tensors, frames): the tool's one raw-bytes
    parameter, annotated ``memoryview``, receives a read-only view of the caller's bytes (over
    shared memory when they came that way: no copy), and a result built in
    ``ctx.shared_buffer(n)`` (a ``memoryview``, or a NumPy array over it) goes back with no copy.
    """

    # The options are build_tool_spec's keywords (the overload above spells them for type checkers):
    # checked here, so that a misspelt one fails at ``@tool(...)`` as a keyword of tool() would.
    try:
        _SPEC_OPTIONS.bind(None, **options)
    except TypeError as exc:
        raise TypeError(f"tool() {exc}") from None

    def mark(f: F) -> F:
        spec = build_tool_spec(f, **options)
        f.__trellis_tool__ = spec  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


def load_module(ref: str) -> ModuleType:
    """Imports a tools module given as a dotted name (``my_pkg.tools``) or a file path (``./tools.py``)."""
    if ref.endswith(".py") or "/" in ref:
        path = Path(ref).resolve()
        if not path.is_file():
            raise ToolDefinitionError(f"tools file {ref!r} does not exist")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ToolDefinitionError(f"cannot import {ref!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(ref)


def collect_tools(modules: Iterable[ModuleType]) -> dict[str, ToolSpec]:
    """Every @tool function defined in or imported into the given modules, by tool name."""
    tools: dict[str, ToolSpec] = {}
    for module in modules:
        for value in vars(module).values():
            spec = getattr(value, "__trellis_tool__", None)
            if not isinstance(spec, ToolSpec):
                continue
            seen = tools.get(spec.name)
            if seen is not None and seen.fn is not spec.fn:
                raise ToolDefinitionError(
                    f"two tools are named {spec.name!r} ({seen.fn.__module__}.{seen.fn.__qualname__} and "
                    f"{spec.fn.__module__}.{spec.fn.__qualname__}); rename one with @tool(name=...)"
                )
            tools[spec.name] = spec
    return tools
