"""The worker's telemetry pieces without a host: JSON log lines, trace headers, ctx.metric/ctx.span."""

from __future__ import annotations

import json
import logging

import pytest
from trellis_worker.log_format import JSON_MARKER, JsonLineFormatter
from trellis_worker.telemetry import CallTelemetry, trace_headers


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("trellis_worker.tool.t", logging.WARNING, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_log_line_carries_the_call_and_stays_one_line() -> None:
    line = JsonLineFormatter().format(
        _record("a\nb %d", 3, trellis_call_id="c1", trellis_session_id="s", trellis_tool="t")
    )
    assert "\n" not in line
    assert line.startswith('{"' + JSON_MARKER + '"')
    out = json.loads(line)
    assert out["msg"] == "a\nb 3"
    assert out["level"] == logging.WARNING
    assert (out["callId"], out["sessionId"], out["tool"]) == ("c1", "s", "t")


def test_json_log_line_without_a_call_has_no_call_fields() -> None:
    out = json.loads(JsonLineFormatter().format(_record("plain")))
    assert "callId" not in out and out["logger"] == "trellis_worker.tool.t"


def test_trace_headers_only_with_a_traceparent() -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert trace_headers([("user-agent", "x"), ("traceparent", tp)]) == {"traceparent": tp}
    assert trace_headers([("tracestate", "a=b")]) is None
    assert trace_headers(None) is None


def test_spans_nest_and_a_raising_block_is_an_error() -> None:
    t = CallTelemetry()
    with t.span("outer", {"n": 1}):
        with pytest.raises(ValueError):
            with t.span("inner", None):
                raise ValueError("boom")
    t.metric("rows", 3, {"k": 1}, "counter", "")
    msg = t.take()
    assert msg is not None
    by_name = {s.name: s for s in msg.spans}
    assert by_name["inner"].parent_id == by_name["outer"].id
    assert by_name["outer"].parent_id == 0
    assert by_name["inner"].error == "ValueError: boom"
    assert by_name["outer"].attributes["n"] == "1"
    assert msg.metrics[0].attributes["k"] == "1"
    assert t.take() is None


def test_metric_kind_and_name_are_checked() -> None:
    t = CallTelemetry()
    with pytest.raises(ValueError, match="kind"):
        t.metric("x", 1, None, "summary", "")
    with pytest.raises(ValueError, match="name"):
        t.metric("", 1, None, "counter", "")


# Run in a fresh interpreter: OpenTelemetry's global providers can be set only once per process, and
# the SDK (installed in the dev environment) is made unimportable there, as for a user who installed
# `trellis-worker[otel]` (the API only) and configured no TracerProvider.
_API_ONLY = r"""
import importlib.abc, json, sys
class NoSdk(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ImportError("opentelemetry-sdk is not installed")
        return None
sys.meta_path.insert(0, NoSdk())
from opentelemetry import propagate, trace
from trellis_worker.telemetry import start_call_trace
tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
call = start_call_trace({"traceparent": tp}, "t", "c1", "")
with trace.get_tracer("tool").start_as_current_span("tool's own") as span:
    carrier = {}
    propagate.inject(carrier)
    print(json.dumps({
        "call_trace": call is not None,
        "recording": span.is_recording(),
        "trace_id": format(span.get_span_context().trace_id, "032x"),
        "injected": carrier,
        "provider": type(trace.get_tracer_provider()).__name__,
    }))
"""


def test_api_only_without_a_tracer_provider_continues_nothing() -> None:
    import subprocess
    import sys

    pytest.importorskip("opentelemetry.trace")
    out = subprocess.run([sys.executable, "-c", _API_ONLY], capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(out.stdout)
    assert got["provider"] == "ProxyTracerProvider"
    # The worker makes no call span and does not make the host's context current: a tool's own span
    # is the API's non-recording one with no trace, and nothing is propagated further.
    assert got["call_trace"] is False
    assert got["recording"] is False
    assert got["trace_id"] == "0" * 32
    assert got["injected"] == {}
