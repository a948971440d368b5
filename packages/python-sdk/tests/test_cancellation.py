"""Client cancellation and deadlines reach the running tool."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest
from conftest import Worker, error_of, json_payload, wait_until
from trellis_worker._stubs import tool_service_pb2 as pb


def _token() -> str:
    return uuid.uuid4().hex


def _observed(worker: Worker, token: str):
    return worker.call("observed", {"token": token})


def _wait_in_flight(worker: Worker, n: int) -> None:
    wait_until(lambda: worker.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight >= n, timeout=10)


@pytest.mark.parametrize("tool", ["hang", "ahang"])
def test_client_cancel_reaches_sync_and_async_tools(worker: Worker, tool: str):
    token = _token()
    future = worker.stub.Execute.future(
        pb.ExecuteRequest(tool=tool, payload=json_payload({"token": token})), timeout=60
    )
    _wait_in_flight(worker, 1)
    assert future.cancel()
    assert wait_until(lambda: _observed(worker, token), timeout=5) == "cancelled"
    wait_until(lambda: worker.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight == 0, timeout=5)


def test_client_cancel_stops_a_streaming_generator(worker: Worker):
    token = _token()
    request = pb.ExecuteRequest(tool="count", payload=json_payload({"n": 10_000, "delay_ms": 5, "token": token}))
    call = worker.stub.ExecuteStream(request, timeout=60)
    first = [int(next(call).item.data) for _ in range(3)]
    assert first == [1, 2, 3]
    call.cancel()
    closed = wait_until(lambda: _observed(worker, token), timeout=5)
    assert closed.startswith("closed:")
    assert int(closed.split(":")[1]) < 10_000  # stopped long before the end


def test_grpc_deadline_cancels_the_tool(worker: Worker):
    token = _token()
    with pytest.raises(grpc.RpcError) as info:
        worker.call("hang", {"token": token}, timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert wait_until(lambda: _observed(worker, token), timeout=5) == "cancelled"


def test_deadline_in_the_request_is_enforced_when_the_rpc_has_none(worker: Worker):
    token = _token()
    deadline_ms = int((time.time() + 0.3) * 1000)
    with pytest.raises(grpc.RpcError) as info:
        worker.call("ahang", {"token": token}, timeout=None, deadline_unix_ms=deadline_ms)
    code, detail = error_of(info.value)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert detail is not None and detail.error_type == "DeadlineExceededError"
    assert wait_until(lambda: _observed(worker, token), timeout=5) == "cancelled"
    # A deadline already in the past fails before the tool runs.
    with pytest.raises(grpc.RpcError) as info:
        worker.call("add", {"a": 1, "b": 2}, timeout=None, deadline_unix_ms=int(time.time() * 1000) - 1000)
    assert error_of(info.value)[0] == grpc.StatusCode.DEADLINE_EXCEEDED


def test_time_remaining_follows_the_grpc_deadline(worker: Worker):
    remaining = worker.call("context_info", timeout=5)["time_remaining"]
    assert 0 < remaining <= 6
    later = json.loads(worker.execute("context_info", timeout=50).result.data)["time_remaining"]
    assert later > remaining


def _stats(worker: Worker) -> pb.WorkerStats:
    return worker.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats


@pytest.mark.parametrize("end", ["deadline", "cancel"])
def test_a_tool_that_ignores_its_calls_end_is_reported_abandoned(worker: Worker, end: str):
    # `sleep` ignores ctx.cancelled: its thread, and its slot, outlive the call.
    request = pb.ExecuteRequest(tool="sleep", payload=json_payload({"seconds": 1.5}))
    if end == "deadline":
        with pytest.raises(grpc.RpcError) as info:
            worker.stub.Execute(request, timeout=0.3)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    else:
        future = worker.stub.Execute.future(request, timeout=60)
        _wait_in_flight(worker, 1)
        assert _stats(worker).abandoned == 0  # running, and its call is still open
        assert future.cancel()
    stats = wait_until(lambda: (s := _stats(worker)).abandoned == 1 and s.in_flight == 0 and s, timeout=5)
    assert stats.abandoned == 1 and stats.in_flight == 0
    # The slot comes back when the tool returns by itself.
    wait_until(lambda: _stats(worker).abandoned == 0, timeout=10)
    assert worker.call("add", {"a": 1, "b": 2}) == 3
