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
