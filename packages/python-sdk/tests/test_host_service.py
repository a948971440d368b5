"""The worker as a client of the host's HostService: log forwarding and host tool calls.

The host here is a real gRPC HostService served by the test process on a Unix socket, standing in
for the TypeScript host.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from conftest import error_of, json_payload, wait_until
from trellis_worker import ERROR_METADATA_KEY
from trellis_worker._stubs import common_pb2, host_service_pb2_grpc
from trellis_worker._stubs import host_service_pb2 as hpb
from trellis_worker._stubs import tool_service_pb2 as pb


class FakeHost(host_service_pb2_grpc.HostServiceServicer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[hpb.LogRecord] = []
        self.batches: list[hpb.LogRequest] = []
        self.tool_calls: list[hpb.CallHostToolRequest] = []
        #: time_remaining() the host saw for each "host_block" call, and whether it was cancelled.
        self.remaining: list[float | None] = []
        self.cancelled = threading.Event()

    def Log(self, request: hpb.LogRequest, context: grpc.ServicerContext) -> hpb.LogResponse:
        with self.lock:
            self.batches.append(request)
            self.records.extend(request.records)
        return hpb.LogResponse()

    def CallHostTool(self, request: hpb.CallHostToolRequest, context: grpc.ServicerContext) -> hpb.CallHostToolResponse:
        with self.lock:
            self.tool_calls.append(request)
        if request.tool == "host_upper":
            text = json.loads(request.payload.data)["text"]
            return hpb.CallHostToolResponse(
                result=common_pb2.Payload(data=json.dumps(text.upper()).encode(), content_type="application/json")
            )
        if request.tool == "host_block":
            # Blocks until the caller cancels (or its deadline passes), like a TS tool awaiting its
            # AbortSignal; bounded so a broken propagation fails the test instead of hanging it.
            self.remaining.append(context.time_remaining())
            gone = threading.Event()
            context.add_callback(gone.set)
            if gone.wait(10):
                self.cancelled.set()
            return hpb.CallHostToolResponse(result=common_pb2.Payload(data=b"null", content_type="application/json"))
        detail = common_pb2.ErrorDetail(error_type="UnknownHostTool", message=f"no host tool {request.tool}")
        context.abort_with_status(_status(grpc.StatusCode.NOT_FOUND, detail))
        raise AssertionError("unreachable")

    def messages(self) -> list[str]:
        with self.lock:
            return [r.message for r in self.records]


def _status(code: grpc.StatusCode, detail: common_pb2.ErrorDetail) -> grpc.Status:
    class _S(grpc.Status):
        pass

    s = _S()
    s.code = code
    s.details = f"{detail.error_type}: {detail.message}"
    s.trailing_metadata = ((ERROR_METADATA_KEY, detail.SerializeToString()),)
    return s


@pytest.fixture
def host(short_dir: Path) -> Iterator[tuple[FakeHost, str]]:
    fake = FakeHost()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    host_service_pb2_grpc.add_HostServiceServicer_to_server(fake, server)
    address = f"unix:{short_dir}/host.sock"
    server.add_insecure_port(address)
    server.start()
    try:
        yield fake, address
    finally:
        server.stop(None).wait(5)


def test_ctx_log_records_are_forwarded_to_the_host(workers, host):
    fake, address = host
    w = workers.start("--host-address", address)
    assert (
        w.call("log_message", {"message": "hello host", "level": "WARNING"}, call_id="c-77", session_id="s-5")
        == "logged"
    )
    wait_until(lambda: "hello host" in fake.messages(), timeout=5)
    record = next(r for r in fake.records if r.message == "hello host")
    assert (record.level, record.level_name) == (30, "WARNING")
    assert (record.call_id, record.session_id, record.tool) == ("c-77", "s-5", "log_message")
    assert record.logger == "trellis_worker.tool.log_message"
    assert record.time_unix_ms > 0
    assert all(b.worker_pid == w.pid for b in fake.batches)
    assert "hello host" not in w.stderr()  # forwarded, not printed


def test_logs_go_to_stderr_without_a_host(workers):
    w = workers.start()
    assert w.call("log_message", {"message": "to stderr please"}, call_id="c-1") == "logged"
    wait_until(lambda: "to stderr please" in w.stderr(), timeout=5)
    line = next(x for x in w.stderr().splitlines() if "to stderr please" in x)
    assert "INFO" in line and "[log_message c-1]" in line


def test_python_tool_calls_a_host_tool(workers, host):
    fake, address = host
    w = workers.start("--host-address", address)
    assert (
        w.call("call_host", {"tool": "host_upper", "args": {"text": "shout"}}, call_id="c-9", session_id="s-2")
        == "SHOUT"
    )
    request = fake.tool_calls[-1]
    assert (request.tool, request.call_id, request.session_id, request.worker_pid) == (
        "host_upper",
        "c-9",
        "s-2",
        w.pid,
    )
    assert request.payload.content_type == "application/json"

    with pytest.raises(grpc.RpcError) as info:
        w.call("call_host", {"tool": "missing"})
    code, detail = error_of(info.value)
    assert code == grpc.StatusCode.INTERNAL
    assert detail.error_type == "HostToolError"
    assert "NOT_FOUND" in detail.message and "no host tool missing" in detail.message


def test_host_tool_without_a_host_is_a_clear_error(workers):
    w = workers.start()
    with pytest.raises(grpc.RpcError) as info:
        w.call("call_host", {"tool": "host_upper"})
    assert "--host-address" in info.value.details()


@pytest.mark.parametrize("tool_name", ["call_host", "call_host_sync"])
def test_cancelling_the_outer_call_cancels_the_host_call(workers, host, tool_name):
    fake, address = host
    w = workers.start("--host-address", address)
    request = pb.ExecuteRequest(tool=tool_name, payload=json_payload({"tool": "host_block"}))
    future = w.stub.Execute.future(request, timeout=30)
    wait_until(lambda: len(fake.remaining) == 1, timeout=10)
    future.cancel()
    assert fake.cancelled.wait(10), "the host call was not cancelled with its outer call"
    # The worker keeps serving.
    assert w.call("add", {"a": 1, "b": 2}) == 3


@pytest.mark.parametrize("tool_name", ["call_host", "call_host_sync"])
def test_the_outer_deadline_is_the_host_calls_deadline(workers, host, tool_name):
    fake, address = host
    w = workers.start("--host-address", address)
    with pytest.raises(grpc.RpcError) as info:
        w.call(tool_name, {"tool": "host_block"}, timeout=1.0)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The outer 1 s budget, give or take the clocks of two gRPC stacks (never the default: none).
    assert fake.remaining[0] is not None and 0 < fake.remaining[0] <= 1.1
    assert fake.cancelled.wait(10), "the host call outlived its deadline"


def test_a_sync_tool_gets_the_host_error_type_message_and_stack(workers, host):
    fake, address = host
    w = workers.start("--host-address", address)
    with pytest.raises(grpc.RpcError) as info:
        w.call("call_host_sync", {"tool": "missing"})
    code, detail = error_of(info.value)
    assert code == grpc.StatusCode.INTERNAL
    assert detail.error_type == "HostToolError"
    assert "NOT_FOUND" in detail.message and "no host tool missing" in detail.message
