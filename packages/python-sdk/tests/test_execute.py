"""Calls against a real worker subprocess: discovery, unary, streaming, bytes, context, sessions."""

from __future__ import annotations

import json
import os
import random

import grpc
import pytest
from conftest import JSON, OCTET, Worker, error_of
from trellis_worker._stubs import common_pb2
from trellis_worker._stubs import tool_service_pb2 as pb


def test_describe_lists_every_tool_with_its_schema(worker: Worker):
    d = worker.stub.Describe(pb.DescribeRequest(), timeout=10)
    assert d.protocol == "trellis.bridge.v1"
    assert d.pid == worker.pid
    assert d.run_id == worker.run_id
    assert d.concurrency == 4
    assert d.max_message_bytes == 16 * 1024 * 1024
    tools = {t.name: t for t in d.tools}
    assert len(tools) == worker.ready["tools"]
    assert [t.name for t in d.tools] == sorted(tools)
    add = tools["add"]
    assert add.description == "Add two integers."
    assert json.loads(add.parameters_json_schema)["required"] == ["a", "b"]
    assert add.idempotent and not add.streaming
    assert tools["count"].streaming and tools["acount"].streaming
    assert tools["reverse_bytes"].raw_bytes_parameter == "data"
    assert tools["add"].raw_bytes_parameter == ""


def test_health_ping_and_heartbeat(worker: Worker):
    h = worker.stub.Health(pb.HealthRequest(), timeout=10)
    assert h.status == pb.HealthResponse.SERVING
    assert (h.protocol, h.pid, h.run_id) == ("trellis.bridge.v1", worker.pid, worker.run_id)
    data = bytes(range(256)) * 4
    assert worker.stub.Ping(pb.PingRequest(data=data), timeout=10).data == data
    before = worker.stub.Heartbeat(pb.HeartbeatRequest(seq=41), timeout=10)
    worker.call("add", {"a": 1, "b": 1})
    after = worker.stub.Heartbeat(pb.HeartbeatRequest(seq=42), timeout=10)
    assert (before.seq, after.seq) == (41, 42)
    assert after.stats.pid == worker.pid
    assert after.stats.calls_served == before.stats.calls_served + 1
    assert after.stats.in_flight == 0
    status_kb = next(line for line in open(f"/proc/{worker.pid}/status") if line.startswith("VmRSS:"))
    rss_kb = int(status_kb.split()[1])
    assert abs(after.stats.rss_bytes / 1024 - rss_kb) < 0.5 * rss_kb  # the worker's own RSS


def test_unary_sync_and_async_tools(worker: Worker):
    assert worker.call("add", {"a": 2, "b": 40}) == 42
    assert worker.call("count_primes", {"n": 100}) == 25
    value = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    assert worker.call("echo", {"value": value}) == value
    assert worker.call("echo") is None  # empty payload means no arguments
    response = worker.execute("add", {"a": 1, "b": 2})
    assert response.result.content_type == JSON
    assert response.result.data == b"3"
    assert worker.call(
        "summarize",
        {"items": [{"name": "a", "qty": 2}, {"name": "b", "qty": 5}], "mode": "max", "scale": {"factor": 3}},
    ) == {"total": 15.0, "names": ["a", "b"], "scale": {"factor": 3.0, "label": "x"}, "tags": {}}


def test_bytes_pass_through_untouched(worker: Worker):
    rng = random.Random(7)
    for data in (b"", bytes(range(256)), rng.randbytes(1024 * 1024)):
        response = worker.execute("reverse_bytes", payload=common_pb2.Payload(data=data, content_type=OCTET))
        assert response.result.content_type == OCTET
        assert response.result.data == data[::-1]
    labelled = worker.execute("labelled_bytes", {"text": "plain ✓"})
    assert labelled.result.content_type == "text/plain"
    assert labelled.result.data == "plain ✓".encode()


def test_streaming_sync_and_async_generators(worker: Worker):
    assert worker.stream("count", {"n": 5}) == [1, 2, 3, 4, 5]
    assert worker.stream("acount", {"n": 4, "delay_ms": 1}) == [1, 2, 3, 4]
    assert worker.stream("count", {"n": 0}) == []
    # More items than the producer may buffer ahead: backpressure must not lose or reorder any.
    assert worker.stream("count", {"n": 200}) == list(range(1, 201))
    # A non-streaming tool streamed gives exactly one item.
    assert worker.stream("add", {"a": 1, "b": 2}) == [3]


def test_unary_call_of_a_streaming_tool_is_refused(worker: Worker):
    with pytest.raises(grpc.RpcError) as info:
        worker.call("count", {"n": 3})
    code, detail = error_of(info.value)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert detail is not None and "ExecuteStream" in detail.message


def test_context_carries_call_fields_and_deadline(worker: Worker):
    info = worker.call(
        "context_info",
        timeout=20,
        call_id="call-1",
        session_id="s-1",
        idempotent=True,
        metadata={"user": "ada", "trace": "t-9"},
    )
    assert info["call_id"] == "call-1"
    assert info["session_id"] == "s-1"
    assert info["metadata"] == {"user": "ada", "trace": "t-9"}
    assert info["idempotent"] is True
    assert info["content_type"] == JSON
    assert info["pid"] == worker.pid
    assert 0 < info["time_remaining"] <= 21  # the grpc-timeout header rounds up slightly
    generated = worker.call("context_info", timeout=None)
    assert len(generated["call_id"]) == 32  # made up by the worker when the caller sends none
    assert generated["time_remaining"] is None


def test_session_state_is_kept_per_session_until_end_session(worker: Worker):
    assert [worker.call("session_counter", session_id="alpha") for _ in range(3)] == [1, 2, 3]
    assert worker.call("session_counter", session_id="beta") == 1
    assert worker.call("session_counter") == 1  # no session id: nothing kept
    assert worker.call("session_counter") == 1
    sessions = worker.stub.Heartbeat(pb.HeartbeatRequest(seq=1), timeout=10).stats.sessions
    assert worker.stub.EndSession(pb.EndSessionRequest(session_id="alpha"), timeout=10).existed is True
    assert worker.stub.EndSession(pb.EndSessionRequest(session_id="alpha"), timeout=10).existed is False
    assert worker.stub.Heartbeat(pb.HeartbeatRequest(seq=2), timeout=10).stats.sessions == sessions - 1
    assert worker.call("session_counter", session_id="alpha") == 1  # state was released
    assert worker.call("session_counter", session_id="beta") == 2  # other sessions untouched


def test_concurrent_calls_are_served_while_slots_are_busy(worker: Worker):
    futures = [
        worker.stub.Execute.future(
            pb.ExecuteRequest(tool="sleep", payload=common_pb2.Payload(data=b'{"seconds": 0.5}', content_type=JSON)),
            timeout=30,
        )
        for _ in range(4)
    ]
    try:
        # With every slot taken, the loop still answers control calls.
        stats = worker.stub.Heartbeat(pb.HeartbeatRequest(seq=7), timeout=10).stats
        assert stats.in_flight >= 1
    finally:
        results = [json.loads(f.result().result.data) for f in futures]
    assert results == ["slept"] * 4


def test_print_in_a_tool_goes_to_stderr_never_stdout(workers):
    w = workers.start()
    assert w.call("noisy", {"text": "shouting-into-the-void"}) == "ok"
    w.close_channel()
    w.proc.stdin.close()  # host gone: the worker exits
    assert w.proc.wait(timeout=10) == 0
    assert w.proc.stdout.read() == b""  # nothing after the readiness line
    assert "shouting-into-the-void" in w.stderr()
    assert "shouting-into-the-void (fd 1)" in w.stderr()


def test_tools_given_as_a_file_path(workers):
    w = workers.start(tools=str(os.path.join(os.path.dirname(__file__), "tools_fixture.py")))
    assert w.call("add", {"a": 20, "b": 22}) == 42
