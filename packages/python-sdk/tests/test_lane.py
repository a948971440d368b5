"""The call lane (lane.py): a framed Unix socket negotiated with OpenLane, carrying many calls at once
with the same semantics as the unary RPCs (status codes, ErrorDetail, deadlines, cancellation,
streams with credit-based backpressure)."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from typing import Any

import grpc
import pytest
from conftest import Worker, json_payload, wait_until
from trellis_worker._stubs import lane_pb2
from trellis_worker._stubs import tool_service_pb2 as pb

_HEADER = struct.Struct("<IBI")


class Lane:
    """A minimal synchronous lane client (the host's is TypeScript: grpc-bridge src/lane/)."""

    def __init__(self, worker: Worker, token: bytes | None = None) -> None:
        opened = worker.stub.OpenLane(pb.OpenLaneRequest(), timeout=10)
        assert opened.path, "a worker listening on a Unix socket offers a lane"
        self.path = opened.path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(opened.path)
        self.buf = b""
        self.send(lane_pb2.LANE_HELLO, 0, opened.token if token is None else token)

    def send(self, kind: int, call_id: int, body: bytes = b"") -> None:
        self.sock.sendall(_HEADER.pack(len(body) + 5, kind, call_id) + body)

    def call(
        self, call_id: int, tool: str, args: Any, *, timeout_ms: float = 0, stream: bool = False, credit: int = 0
    ) -> None:
        msg = lane_pb2.LaneCall(
            request=pb.ExecuteRequest(tool=tool, payload=json_payload(args), call_id=f"c{call_id}"),
            timeout_ms=timeout_ms,
            stream=stream,
            credit=credit,
        )
        self.send(lane_pb2.LANE_CALL, call_id, msg.SerializeToString())

    def recv(self) -> tuple[int, int, bytes]:
        while True:
            if len(self.buf) >= 9:
                length, kind, call_id = _HEADER.unpack_from(self.buf)
                if len(self.buf) >= 4 + length:
                    body = self.buf[9 : 4 + length]
                    self.buf = self.buf[4 + length :]
                    return kind, call_id, body
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("lane closed")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def _result(body: bytes) -> Any:
    return json.loads(pb.ExecuteResponse.FromString(body).result.data)


def test_lane_runs_many_calls_at_once_with_their_own_ids(worker: Worker):
    lane = Lane(worker)
    try:
        for i in range(1, 65):
            lane.call(i, "echo", {"value": i})
        got = {}
        while len(got) < 64:
            kind, call_id, body = lane.recv()
            assert kind == lane_pb2.LANE_RESULT
            got[call_id] = _result(body)
        assert got == {i: i for i in range(1, 65)}
    finally:
        lane.close()


def test_lane_refuses_a_connection_without_the_token(worker: Worker):
    lane = Lane(worker, token=b"x" * 32)
    try:
        with pytest.raises((EOFError, ConnectionResetError, BrokenPipeError)):
            lane.call(1, "echo", {"value": 1})
            lane.recv()
    finally:
        lane.close()


def test_lane_errors_carry_the_status_and_error_detail(worker: Worker):
    lane = Lane(worker)
    try:
        lane.call(7, "add", {"a": 1, "b": "x"})
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_ERROR, 7)
        err = lane_pb2.LaneError.FromString(body)
        assert err.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert err.detail.field_path == "b" and err.detail.tool == "add"
        lane.call(8, "nope", {})
        kind, call_id, body = lane.recv()
        err = lane_pb2.LaneError.FromString(body)
        assert err.code == grpc.StatusCode.NOT_FOUND.value[0] and "echo" in err.detail.available_tools
    finally:
        lane.close()


@pytest.mark.parametrize("tool", ["hang", "ahang"])
def test_lane_cancel_reaches_sync_and_async_tools(worker: Worker, tool: str):
    token = uuid.uuid4().hex
    lane = Lane(worker)
    try:
        lane.call(3, tool, {"token": token})
        wait_until(lambda: worker.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight >= 1, timeout=10)
        lane.send(lane_pb2.LANE_CANCEL, 3)
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_ERROR, 3)
        assert lane_pb2.LaneError.FromString(body).code == grpc.StatusCode.CANCELLED.value[0]
        assert wait_until(lambda: worker.call("observed", {"token": token}), timeout=5) == "cancelled"
    finally:
        lane.close()


def test_lane_cancel_in_the_same_read_as_its_call_still_answers(worker: Worker):
    # The call suspends in its eager first step and gets a Task; the cancel, parsed from the same
    # read, cancels that Task before it has run once: the tool must still see it and the host get
    # its CANCELLED (a Task wrapping the coroutine in a fresh `async def` would drop both).
    token = uuid.uuid4().hex
    lane = Lane(worker)
    try:
        msg = lane_pb2.LaneCall(
            request=pb.ExecuteRequest(tool="ahang", payload=json_payload({"token": token}), call_id="c3")
        ).SerializeToString()
        lane.sock.sendall(
            _HEADER.pack(len(msg) + 5, lane_pb2.LANE_CALL, 3) + msg + _HEADER.pack(5, lane_pb2.LANE_CANCEL, 3)
        )
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_ERROR, 3)
        assert lane_pb2.LaneError.FromString(body).code == grpc.StatusCode.CANCELLED.value[0]
        assert wait_until(lambda: worker.call("observed", {"token": token}), timeout=5) == "cancelled"
        assert worker.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight == 0
    finally:
        lane.close()


def test_lane_async_tools_run_in_a_task_of_their_own(worker: Worker):
    # Calls start eagerly (no Task until they suspend): the tool still has a current task for
    # asyncio.timeout and TaskGroup, and a context of its own that no other call sees.
    lane = Lane(worker)
    try:
        lane.call(1, "structured", {"n": 5})
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_RESULT, 1), lane_pb2.LaneError.FromString(body)
        assert _result(body) == 10
        for i in (2, 3):
            lane.call(i, "swap_var", {"value": f"v{i}"})
            kind, call_id, body = lane.recv()
            assert (kind, call_id) == (lane_pb2.LANE_RESULT, i)
            assert _result(body) is None
        # A call that suspends goes on in the same Context as its first step (a token set before
        # the await resets after it, as OpenTelemetry's attach/detach around a traced call do).
        lane.call(4, "reset_across_await", {})
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_RESULT, 4), lane_pb2.LaneError.FromString(body)
        assert _result(body) == "ok"
    finally:
        lane.close()


def test_lane_frames_split_and_larger_than_one_read(worker: Worker):
    lane = Lane(worker)
    try:
        big = "y" * (3 * 1024 * 1024)  # one frame over 10 reads of the lane's buffer
        msg = lane_pb2.LaneCall(
            request=pb.ExecuteRequest(tool="echo", payload=json_payload({"value": big}), call_id="c1")
        ).SerializeToString()
        frame = _HEADER.pack(len(msg) + 5, lane_pb2.LANE_CALL, 1) + msg
        small = lane_pb2.LaneCall(
            request=pb.ExecuteRequest(tool="echo", payload=json_payload({"value": 2}), call_id="c2")
        ).SerializeToString()
        frame += _HEADER.pack(len(small) + 5, lane_pb2.LANE_CALL, 2) + small
        # Header bytes alone, then the rest in uneven pieces.
        for a, b in ((0, 3), (3, 11), (11, 70_001), (70_001, len(frame) - 7), (len(frame) - 7, len(frame))):
            lane.sock.sendall(frame[a:b])
        got = {}
        while len(got) < 2:
            kind, call_id, body = lane.recv()
            assert kind == lane_pb2.LANE_RESULT
            got[call_id] = _result(body)
        assert got == {1: big, 2: 2}
    finally:
        lane.close()


def test_lane_answers_heartbeats_with_the_worker_stats(worker: Worker):
    opened = worker.stub.OpenLane(pb.OpenLaneRequest(), timeout=10)
    assert opened.heartbeats, "a worker with a lane says it answers heartbeats on it"
    lane = Lane(worker)
    try:
        lane.call(1, "ahang", {"token": uuid.uuid4().hex, "seconds": 0.5})
        lane.send(lane_pb2.LANE_HEARTBEAT, 2, pb.HeartbeatRequest(seq=41).SerializeToString())
        kind, call_id, body = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_HEARTBEAT_ACK, 2)
        beat = pb.HeartbeatResponse.FromString(body)
        assert beat.seq == 41 and beat.stats.pid > 0 and beat.stats.rss_bytes > 0
        assert beat.stats.in_flight == 1, "the call running on the lane is counted"
        kind, call_id, _ = lane.recv()
        assert (kind, call_id) == (lane_pb2.LANE_RESULT, 1)
    finally:
        lane.close()


def test_lane_deadline_is_enforced_and_seen_by_the_tool(worker: Worker):
    token = uuid.uuid4().hex
    lane = Lane(worker)
    try:
        t0 = time.monotonic()
        lane.call(4, "hang", {"token": token}, timeout_ms=300)
        # The tool is cancelled at its deadline; like a gRPC server, the worker sends no answer (the
        # host's own deadline, set before it sent the call, has settled it).
        assert wait_until(lambda: worker.call("observed", {"token": token}), timeout=5) == "cancelled"
        assert time.monotonic() - t0 >= 0.29
        lane.call(5, "context_info", {}, timeout_ms=5000)
        kind, call_id, body = lane.recv()
        info = _result(body)
        assert 0 < info["time_remaining"] <= 5.0
    finally:
        lane.close()


def test_lane_stream_sends_no_more_items_than_its_credit(worker: Worker):
    lane = Lane(worker)
    try:
        lane.call(9, "count", {"n": 10}, stream=True, credit=3)
        items = []
        for _ in range(3):
            kind, call_id, body = lane.recv()
            assert (kind, call_id) == (lane_pb2.LANE_ITEM, 9)
            items.append(json.loads(pb.ExecuteStreamResponse.FromString(body).item.data))
        # No fourth item arrives until the host grants more credit.
        lane.sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            lane.recv()
        lane.sock.settimeout(30)
        lane.send(lane_pb2.LANE_CREDIT, 9, struct.pack("<I", 100))
        while True:
            kind, call_id, body = lane.recv()
            if kind == lane_pb2.LANE_END:
                break
            items.append(json.loads(pb.ExecuteStreamResponse.FromString(body).item.data))
        assert items == list(range(1, 11))
    finally:
        lane.close()


@pytest.mark.parametrize(
    ("data", "content_type", "duration_us"),
    [
        (b"", "", 0),
        (b'{"a": 1}', "application/json", 17),
        (b"\x00" * 300, "application/octet-stream", 2**40),
        (b"x" * 70000, "image/png", 1),
    ],
)
def test_encode_execute_response_is_the_protobuf_encoding(data: bytes, content_type: str, duration_us: int):
    from trellis_worker._stubs import common_pb2
    from trellis_worker.lane import encode_execute_response

    expected = pb.ExecuteResponse(
        result=common_pb2.Payload(data=data, content_type=content_type), duration_us=duration_us
    )
    assert encode_execute_response(data, content_type, duration_us) == expected.SerializeToString()
    telemetry = pb.ToolTelemetry(metrics=[pb.ToolMetric(name="rows", value=3.0, kind="counter")])
    expected.telemetry.CopyFrom(telemetry)
    got = encode_execute_response(data, content_type, duration_us, telemetry.SerializeToString())
    assert got == expected.SerializeToString()
