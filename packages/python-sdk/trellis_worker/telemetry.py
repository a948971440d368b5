"""Telemetry of one tool call: the host's W3C trace context, ``ctx.metric`` and ``ctx.span``.

The host sends its call span's ``traceparent`` (and ``tracestate``) as gRPC metadata. When the
optional ``opentelemetry-api`` package is installed, the worker continues that trace: the call runs
inside a span ``tool <name>`` whose parent is the host's span, so whatever spans the tool makes
with OpenTelemetry nest under the host's call. Without it the header is ignored and nothing here is
imported (the import is tried once, at the first traced call).

``ctx.metric`` and ``ctx.span`` need nothing installed: they are collected per call and sent back
with the result (``ExecuteResponse.telemetry``), and the host records them with its own meter and
tracer, under its call span. When Python's own OpenTelemetry SDK is recording (the tool's process
configured a TracerProvider), ``ctx.span`` makes a real Python span instead, exported by that SDK.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ._stubs import tool_service_pb2 as pb

_otel: Any = None  # None: not tried yet; False: not installed; else (context, trace, propagator, proxy class)
# The tracer of the current global provider, made once per provider (get_tracer builds an object).
_tracer: Any = None
_tracer_of: Any = None

METRIC_KINDS = ("counter", "histogram", "gauge")


def _load_otel() -> Any:
    global _otel
    if _otel is None:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry import trace as otel_trace
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            _otel = (otel_context, otel_trace, TraceContextTextMapPropagator(), otel_trace.ProxyTracerProvider)
        except ImportError:
            _otel = False
    return _otel


def trace_headers(metadata: Sequence[tuple[str, Any]] | None) -> dict[str, str] | None:
    """The W3C trace context headers among a call's gRPC metadata, or None when it has none."""
    if not metadata:
        return None
    out: dict[str, str] | None = None
    for key, value in metadata:
        if key == "traceparent" or key == "tracestate":
            if out is None:
                out = {}
            out[key] = value if isinstance(value, str) else value.decode("latin-1")
    return out if out is not None and "traceparent" in out else None


class CallTrace:
    """The call's span in Python and the contextvars its tool runs in (sync tools on a thread)."""

    __slots__ = ("span", "_token", "context", "_otel")

    def __init__(self, tracer: Any, headers: Mapping[str, str], tool: str, call_id: str, session_id: str) -> None:
        otel_context, otel_trace, propagator, _ = self._otel = _otel
        parent = propagator.extract(dict(headers))
        attributes = {"trellis.tool": tool, "trellis.call_id": call_id, "rpc.system": "grpc"}
        if session_id:
            attributes["trellis.session_id"] = session_id
        self.span = tracer.start_span(
            f"tool {tool}", context=parent, kind=otel_trace.SpanKind.SERVER, attributes=attributes
        )
        self._token = otel_context.attach(otel_trace.set_span_in_context(self.span, parent))
        # A sync tool runs on a tool thread, which does not inherit the RPC task's contextvars:
        # it runs inside this copy, so its spans find the call's span as their parent.
        self.context = contextvars.copy_context()

    def end(self, error: BaseException | None) -> None:
        otel_context, otel_trace, _, _ = self._otel
        try:
            otel_context.detach(self._token)
        except Exception:  # noqa: BLE001 - detaching in another context only warns in OpenTelemetry
            pass
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self.span.end()


def start_call_trace(headers: Mapping[str, str] | None, tool: str, call_id: str, session_id: str) -> CallTrace | None:
    """Continues the host's trace for one call, when it sent one, opentelemetry is installed and a
    TracerProvider is configured in this process. Without a provider (the API's proxy) nothing
    could record the span: the call then costs only this check (the worker's per-call budget is a
    few tens of microseconds, and making a span that nobody records would take a noticeable part)."""
    global _tracer, _tracer_of
    if headers is None or not _load_otel():
        return None
    otel_trace = _otel[1]
    provider = otel_trace.get_tracer_provider()
    if isinstance(provider, _otel[3]):
        return None
    if provider is not _tracer_of:
        _tracer = provider.get_tracer("trellis_worker")
        _tracer_of = provider
    return CallTrace(_tracer, headers, tool, call_id, session_id)


class CallTelemetry:
    """What a tool recorded with ctx.metric / ctx.span, until it is sent back with the result."""

    __slots__ = ("metrics", "spans", "_next_id", "_stack")

    def __init__(self) -> None:
        self.metrics: list[pb.ToolMetric] = []
        self.spans: list[pb.ToolSpan] = []
        self._next_id = 0
        self._stack: list[int] = []

    def metric(self, name: str, value: float, attributes: Mapping[str, Any] | None, kind: str, unit: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"ctx.metric name must be a non-empty string, got {name!r}")
        if kind not in METRIC_KINDS:
            raise ValueError(f"ctx.metric kind must be one of {', '.join(METRIC_KINDS)}, got {kind!r}")
        self.metrics.append(
            pb.ToolMetric(
                name=name,
                value=float(value),
                kind=kind,
                unit=unit,
                attributes={str(k): str(v) for k, v in (attributes or {}).items()},
            )
        )

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, Any] | None) -> Iterator[None]:
        self._next_id += 1
        span_id = self._next_id
        parent = self._stack[-1] if self._stack else 0
        self._stack.append(span_id)
        start = time.time() * 1000.0
        error = ""
        try:
            yield
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._stack.pop()
            self.spans.append(
                pb.ToolSpan(
                    id=span_id,
                    parent_id=parent,
                    name=name,
                    start_unix_ms=start,
                    end_unix_ms=time.time() * 1000.0,
                    attributes={str(k): str(v) for k, v in (attributes or {}).items()},
                    error=error,
                )
            )

    def take(self) -> pb.ToolTelemetry | None:
        """The records so far as one message (None when there are none), and a fresh start."""
        if not self.metrics and not self.spans:
            return None
        out = pb.ToolTelemetry(metrics=self.metrics, spans=self.spans)
        self.metrics = []
        self.spans = []
        return out


@contextmanager
def otel_span(name: str, attributes: Mapping[str, Any] | None) -> Iterator[None]:
    """A span of Python's own OpenTelemetry SDK, under the current span (the call's)."""
    _, otel_trace, _, _ = _otel
    with otel_trace.get_tracer("trellis_worker").start_as_current_span(name, attributes=dict(attributes or {})):
        yield
