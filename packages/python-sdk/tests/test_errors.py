"""Exception -> gRPC status mapping, with ErrorDetail decoded from `trellis-error-bin`."""

from __future__ import annotations

import grpc
import pytest
from conftest import OCTET, Worker, error_of, json_payload
from trellis_worker._stubs import common_pb2
from trellis_worker._stubs import tool_service_pb2 as pb


def _fail(worker: Worker, tool: str, args=None, **kw):
    with pytest.raises(grpc.RpcError) as info:
        worker.call(tool, args, **kw)
    code, detail = error_of(info.value)
    assert detail is not None, f"no trellis-error-bin on {code}: {info.value.details()}"
    assert info.value.details() == f"{detail.error_type}: {detail.message}"[: len(info.value.details())]
    return code, detail


def test_bad_arguments_are_invalid_argument_with_the_field_path(worker: Worker):
    good = {"name": "a", "qty": 1}
    code, d = _fail(worker, "summarize", {"items": [good, good, {"name": 3, "qty": 1}]})
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (d.error_type, d.field_path, d.tool) == ("ValidationError", "items[2].name", "summarize")
    assert d.message == "items[2].name: expected string, got integer"
    assert d.traceback == ""  # raised before the tool ran

    code, d = _fail(worker, "add", {"a": 1})
    assert (code, d.field_path, d.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "b",
        "b: missing required parameter",
    )
    code, d = _fail(worker, "add", {"a": 1, "b": 2, "extra": 0})
    assert (code, d.field_path) == (grpc.StatusCode.INVALID_ARGUMENT, "extra")
    code, d = _fail(worker, "add", payload=common_pb2.Payload(data=b"{not json", content_type="application/json"))
    assert (code, d.field_path) == (grpc.StatusCode.INVALID_ARGUMENT, "")
    assert "not valid JSON" in d.message
    code, d = _fail(worker, "add", payload=common_pb2.Payload(data=b"\x01", content_type=OCTET))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "raw" in d.message


def test_unknown_tool_is_not_found_and_lists_the_tools(worker: Worker):
    code, d = _fail(worker, "no_such_tool")
    assert code == grpc.StatusCode.NOT_FOUND
    assert d.error_type == "UnknownToolError"
    assert d.tool == "no_such_tool"
    assert "add" in d.available_tools and "echo" in d.available_tools
    assert list(d.available_tools) == sorted(d.available_tools)
    assert len(d.available_tools) == worker.ready["tools"]


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [
        ("not_implemented", grpc.StatusCode.UNIMPLEMENTED, "NotImplementedError"),
        ("permission", grpc.StatusCode.PERMISSION_DENIED, "PermissionError"),
        ("timeout", grpc.StatusCode.DEADLINE_EXCEEDED, "TimeoutError"),
        ("cancelled", grpc.StatusCode.CANCELLED, "Cancelled"),
        ("memory", grpc.StatusCode.RESOURCE_EXHAUSTED, "MemoryError"),
        ("runtime", grpc.StatusCode.INTERNAL, "RuntimeError"),
        # A TypeError raised inside the tool is the tool's bug, not bad arguments.
        ("type", grpc.StatusCode.INTERNAL, "TypeError"),
        ("system_exit", grpc.StatusCode.INTERNAL, "SystemExit"),
    ],
)
def test_tool_exceptions_map_to_status_codes(worker: Worker, kind: str, status: grpc.StatusCode, error_type: str):
    code, d = _fail(worker, "fail", {"kind": kind})
    assert code == status
    assert d.error_type == error_type
    assert d.tool == "fail"
    assert "Traceback (most recent call last)" in d.traceback
    assert "in fail" in d.traceback  # the tool's own frame is in it
    # A failing tool never takes the worker down.
    assert worker.call("add", {"a": 1, "b": 1}) == 2
    assert worker.stub.Health(pb.HealthRequest(), timeout=10).pid == worker.pid


def test_value_error_carries_type_message_and_traceback(worker: Worker):
    code, d = _fail(worker, "checked_sqrt", {"x": -1})
    assert code == grpc.StatusCode.INTERNAL
    assert (d.error_type, d.message) == ("ValueError", "x must be >= 0")
    assert 'raise ValueError("x must be >= 0")' in d.traceback
    assert worker.call("checked_sqrt", {"x": 16}) == 4.0


def test_huge_messages_and_tracebacks_are_clipped_to_fit_in_metadata(worker: Worker):
    code, d = _fail(worker, "fail", {"kind": "huge"})
    assert code == grpc.StatusCode.INTERNAL
    assert d.message.startswith("xxxx") and "characters cut" in d.message
    assert len(d.message) < 1100
    code, d = _fail(worker, "fail", {"kind": "deep"})
    assert code == grpc.StatusCode.INTERNAL
    assert d.traceback.endswith("RuntimeError: deep failure\n")
    assert "characters cut" in d.traceback and len(d.traceback) < 4100


def test_error_in_the_middle_of_a_stream(worker: Worker):
    request = pb.ExecuteRequest(tool="count", payload=json_payload({"n": 10, "fail_at": 4}))
    received = []
    with pytest.raises(grpc.RpcError) as info:
        for item in worker.stub.ExecuteStream(request, timeout=30):
            received.append(int(item.item.data))
    assert received == [1, 2, 3]
    code, d = error_of(info.value)
    assert code == grpc.StatusCode.INTERNAL
    assert d is not None and (d.error_type, d.message) == ("ValueError", "failing at item 4 as asked")


def test_oversized_result_is_resource_exhausted(workers):
    w = workers.start("--max-message-bytes", str(64 * 1024))
    assert len(w.call("big_result", {"size": 1000})) == 1000
    code, d = _fail(w, "big_result", {"size": 100_000})
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert d.error_type == "PayloadTooLargeError"
    assert "65536" in d.message and "big_result" in d.message
    # A request over the limit is refused by gRPC itself, before any tool code: no ErrorDetail.
    with pytest.raises(grpc.RpcError) as info:
        w.execute("reverse_bytes", payload=common_pb2.Payload(data=bytes(100_000), content_type=OCTET))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert w.call("add", {"a": 1, "b": 2}) == 3
