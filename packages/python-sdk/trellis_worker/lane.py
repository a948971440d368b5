"""The worker's side of the call lane (protos/trellis/bridge/v1/lane.proto): one framed Unix socket
that carries many calls at once, negotiated over gRPC (ToolService.OpenLane).

Why it exists: a grpcio unary call costs ~1 ms of round trip on a small machine, ~15x a framed
Unix-socket round trip between the same two processes, and most of it is per-message HTTP/2 and
grpc work on both sides, not the tool. The lane keeps the same messages (ExecuteRequest,
ExecuteResponse, ErrorDetail) and the same semantics (status codes, deadlines, cancellation,
streams with backpressure, sessions, stats), and drops the per-call HTTP/2 stream.

Design points:
  - It is an ``asyncio.BufferedProtocol``, not streams: the socket is read into one reusable
    buffer (a plain Protocol gets a fresh 256 KiB ``bytes`` per read, which glibc maps and unmaps:
    page faults and TLB flushes on every call), and ``buffer_updated`` parses every complete frame
    of a read in one pass, with no coroutine per read.
  - A call's coroutine is started eagerly, in ``buffer_updated`` itself (as Python 3.12's eager
    task factory does, which 3.11 lacks): a call that finishes without suspending (an async tool
    that awaits nothing) costs no Task, no ``call_soon`` and no extra turn of the loop; a Task is
    made only when the coroutine suspends, and it takes over at that point (``_Resume``).
  - Writes are batched: results of the calls of one read are written with one system call at the
    end of that read; frames produced later (calls that suspended) are joined and written at the
    end of the loop iteration (``call_soon``), so 64 results ready together cost one ``send``.
  - LANE_CANCEL cancels a call's task, and its deadline is a ``call_at`` handle (the tool sees
    ``ctx.deadline`` exactly as under a gRPC deadline, and no per-call asyncio.timeout).
  - Authentication: the first frame must be LANE_HELLO with the random token that OpenLane handed
    out over the (authenticated) gRPC channel; the socket lives next to the gRPC socket, in the
    host's private 0700 directory. Anything else closes the connection.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import itertools
import os
import secrets
import socket
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import grpc

from ._stubs import common_pb2, host_service_pb2, lane_pb2
from ._stubs import tool_service_pb2 as pb
from .context import ToolContext
from .errors import Cancelled, DeadlineExceededError, HostToolError
from .payload import decode_value, encode_value
from .shm import ShmConfig
from .status import error_detail, status_for

try:
    from _asyncio import _enter_task, _leave_task  # the C functions asyncio.tasks uses
except ImportError:  # pragma: no cover - interpreters without the C accelerator
    from asyncio.tasks import _enter_task, _leave_task  # type: ignore[attr-defined,no-redef]

if TYPE_CHECKING:
    from .server import Worker

HELLO = lane_pb2.LANE_HELLO
CALL = lane_pb2.LANE_CALL
CANCEL = lane_pb2.LANE_CANCEL
CREDIT = lane_pb2.LANE_CREDIT
RESULT = lane_pb2.LANE_RESULT
ITEM = lane_pb2.LANE_ITEM
END = lane_pb2.LANE_END
ERROR = lane_pb2.LANE_ERROR
HOST_CALL = lane_pb2.LANE_HOST_CALL
HOST_CANCEL = lane_pb2.LANE_HOST_CANCEL
HOST_RESULT = lane_pb2.LANE_HOST_RESULT
HOST_ERROR = lane_pb2.LANE_HOST_ERROR
HEARTBEAT = lane_pb2.LANE_HEARTBEAT
HEARTBEAT_ACK = lane_pb2.LANE_HEARTBEAT_ACK
RELEASE = lane_pb2.LANE_RELEASE
_STATUS_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}

_HEADER = struct.Struct("<IBI")  # length (of kind + id + body), kind, call id
_HEADER_SIZE = _HEADER.size
_U32 = struct.Struct("<I")
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_READ_SIZE = 256 * 1024  # asyncio's own read size for sockets


class _LaneRpcContext:
    """What Worker.prepare reads from a grpc context: the time left. None means no deadline."""

    __slots__ = ("_deadline", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        self._loop = loop
        self._deadline = deadline

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - self._loop.time()


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_execute_response(data: bytes, content_type: str, duration_us: int, telemetry: bytes = b"") -> bytes:
    """``ExecuteResponse(result=Payload(data, content_type), duration_us, telemetry)
    .SerializeToString()`` (``telemetry`` already serialized), byte for byte (a test checks it),
    without building two message objects per call: on the lane's hot path that was a fifth of the
    worker's per-call cost."""
    ct = content_type.encode()
    payload = b""
    if data:
        payload = b"\x0a" + _varint(len(data)) + data
    if ct:
        payload += b"\x12" + _varint(len(ct)) + ct
    out = b"\x0a" + _varint(len(payload)) + payload
    if duration_us:
        out += b"\x10" + _varint(duration_us)
    if telemetry:
        out += b"\x1a" + _varint(len(telemetry)) + telemetry
    return out


def _trace_headers(msg: lane_pb2.LaneCall) -> dict[str, str] | None:
    headers = msg.headers
    return dict(headers) if headers and "traceparent" in headers else None


class _EagerTask:
    """What ``asyncio.current_task()`` returns while a call's coroutine takes its eager first step,
    before it has a Task: asyncio.timeout, TaskGroup and the SDK's cancellation checks need a
    current task. Once the coroutine suspends and gets its Task, everything forwards to that Task
    (a timeout entered in the first step cancels the real Task when it fires)."""

    __slots__ = ("_loop", "_requests", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._requests = 0  # cancel() calls before there was a Task (only the tool itself can)
        self.task: asyncio.Task[None] | None = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def cancel(self, msg: Any = None) -> bool:
        if self.task is not None:
            return self.task.cancel(msg)
        self._requests += 1
        return True

    def cancelling(self) -> int:
        return self.task.cancelling() if self.task is not None else self._requests  # type: ignore[attr-defined,unused-ignore]

    def uncancel(self) -> int:
        if self.task is not None:
            return self.task.uncancel()  # type: ignore[attr-defined,unused-ignore]
        if self._requests > 0:
            self._requests -= 1
        return self._requests

    def done(self) -> bool:
        return self.task.done() if self.task is not None else False

    def __getattr__(self, name: str) -> Any:
        if self.task is None:
            raise AttributeError(name)
        return getattr(self.task, name)


_FRESH = object()
# Eager first steps need create_task(context=) (3.11+); on 3.10 every call gets its Task at once.
_EAGER = sys.version_info >= (3, 11)


class _Resume(collections.abc.Coroutine):  # type: ignore[type-arg]
    """A Task's coroutine that takes over a coroutine already stepped once (suspended on
    ``yielded``): its first ``send`` hands the Task that same awaitable, every later step goes
    straight to the coroutine. Why not ``async def`` + ``await``: a Task cancelled before its first
    step throws into a fresh coroutine without entering it, and the call's own ``finally`` (which
    answers the host and frees its slot) would never run; here the throw always reaches it."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: collections.abc.Coroutine[Any, Any, None], yielded: Any) -> None:
        self._coro = coro
        self._first = yielded

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _FRESH:
            self._first = _FRESH
            return first
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._first = _FRESH
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # pragma: no cover - asyncio throws instances

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:  # pragma: no cover - only ever driven by a Task
        raise TypeError("_Resume is driven by its Task only")


class _Call:
    __slots__ = ("credit", "credit_waiter", "deadline", "deadline_passed", "task")

    def __init__(self, deadline: float | None) -> None:
        self.task: asyncio.Task[None] | None = None
        self.deadline = deadline
        self.deadline_passed = False
        self.credit = 0
        self.credit_waiter: asyncio.Future[None] | None = None


class _Opened:
    """A call on the lane once it is prepared (LaneConnection._serve), as its answer (_unary or
    _stream) runs it: the shared buffers the answer sent go in ``sent``, so that the end of the call
    leaves them to the host."""

    __slots__ = ("ctx", "kwargs", "sent", "spec")

    def __init__(self, spec: Any, kwargs: dict[str, Any], ctx: ToolContext) -> None:
        self.spec = spec
        self.kwargs = kwargs
        self.ctx = ctx
        self.sent: set[str] = set()


_Answer = Callable[[int, _Call, lane_pb2.LaneCall, _Opened], collections.abc.Awaitable[None]]


class LaneConnection(asyncio.BufferedProtocol):
    """One host connection to the lane."""

    def __init__(self, lane: LaneServer) -> None:
        self._lane = lane
        self._w = lane.worker
        self._loop = lane.worker.loop
        # The read buffer: bytes [0, _filled) are read and not yet parsed. It grows (by a new
        # buffer) to hold a large frame whole, and shrinks back once that frame is parsed.
        self._rbuf = bytearray(_READ_SIZE)
        self._rview = memoryview(self._rbuf)
        self._filled = 0
        self._reading = False
        self._authed = False
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._calls: dict[int, _Call] = {}
        # Host tool calls made over this connection (LaneHostLink), by their id.
        self._host_calls: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._host_ids = itertools.count(1)
        self._host_link = LaneHostLink(self)
        self._aborted = False
        # One timer for the connection, armed at the earliest deadline of its calls (not one
        # call_at per call: most calls arrive in deadline order, so it is rarely re-armed).
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self.transport: asyncio.Transport | None = None

    # --- transport --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._lane.connections.add(self)
        # The host's PID: whose /proc/<pid>/maps says when a released result memfd is unmapped
        # there and may be reused (shm.py). Unknown (0) reuses nothing.
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(socket, "SO_PEERCRED"):
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
            self._lane.shm.host_pid = _PEERCRED.unpack(creds)[0]

    def connection_lost(self, exc: Exception | None) -> None:
        self._lane.connections.discard(self)
        # The host is gone or closed the lane: its calls are over (a sync tool sees ctx.cancelled).
        for call in list(self._calls.values()):
            if call.task is not None:
                call.task.cancel()
        for fut in self._host_calls.values():
            if not fut.done():
                fut.set_result(
                    (HOST_ERROR, lane_pb2.LaneError(code=grpc.StatusCode.UNAVAILABLE.value[0]).SerializeToString())
                )
        self._host_calls.clear()
        # Memfd results the host will not open now (one lane per worker: no other connection's).
        self._lane.shm.release_all()
        self.transport = None

    def abort(self) -> None:
        """Drops the connection without another frame: what is still running is cut, as a gRPC
        server cuts its RPCs at the end of its shutdown grace, and the host then reports the
        worker's exit, not a cancellation it never asked for."""
        self._aborted = True
        if self.transport is not None:
            self.transport.abort()

    def _send(self, kind: int, call_id: int, body: bytes = b"") -> None:
        if self._aborted:
            return
        self._out.append(_HEADER.pack(len(body) + 5, kind, call_id))
        if body:
            self._out.append(body)
        if not self._flush_scheduled and not self._reading:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if not out or self.transport is None:
            out.clear()
            return
        self._out = []
        self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def get_buffer(self, sizehint: int) -> memoryview:
        filled = self._filled
        need = _READ_SIZE // 4
        if filled >= _HEADER_SIZE:
            # A frame is partly here: make room for all of it, so it is read in place, whole.
            need = max(need, 4 + _U32.unpack_from(self._rbuf, 0)[0] - filled)
        if len(self._rbuf) - filled < need:
            grown = bytearray(max(filled + need, _READ_SIZE))
            grown[:filled] = self._rview[:filled]
            self._rbuf = grown
            self._rview = memoryview(grown)
        return self._rview[filled:]

    def buffer_updated(self, nbytes: int) -> None:
        buf = self._rbuf
        view = self._rview
        n = self._filled + nbytes
        pos = 0
        self._reading = True  # results of calls that finish right here go out in one write below
        try:
            while n - pos >= _HEADER_SIZE:
                length, kind, call_id = _HEADER.unpack_from(buf, pos)
                end = pos + 4 + length
                if end > n:
                    break
                body = bytes(view[pos + _HEADER_SIZE : end])
                pos = end
                if not self._authed:
                    if kind != HELLO or not secrets.compare_digest(body, self._lane.token):
                        assert self.transport is not None
                        self.transport.abort()  # not our host: say nothing, read nothing more
                        self._filled = 0
                        return
                    self._authed = True
                    continue
                self._frame(kind, call_id, body)
        finally:
            self._reading = False
        left = n - pos
        if pos and left:
            view[:left] = view[pos:n]
        self._filled = left
        if left == 0 and len(buf) > _READ_SIZE:
            self._rbuf = bytearray(_READ_SIZE)  # a large frame is done with: give its memory back
            self._rview = memoryview(self._rbuf)
        if self._out and not self._flush_scheduled:
            self._flush()

    # --- frames -----------------------------------------------------------------------------------

    def _frame(self, kind: int, call_id: int, body: bytes) -> None:
        if kind == CALL:
            self._start(call_id, lane_pb2.LaneCall.FromString(body))
        elif kind == CANCEL:
            call = self._calls.get(call_id)
            if call is not None and call.task is not None:
                call.task.cancel()
        elif kind == HOST_RESULT or kind == HOST_ERROR:
            fut = self._host_calls.pop(call_id, None)  # answered: a later cancel sends nothing
            if fut is not None and not fut.done():
                fut.set_result((kind, body))
        elif kind == CREDIT:
            call = self._calls.get(call_id)
            if call is not None:
                call.credit += _U32.unpack(body)[0]
                waiter = call.credit_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
        elif kind == HEARTBEAT:
            # Answered here, on the event loop, as the Heartbeat RPC is: a loop blocked by a tool
            # answers neither, and the host counts the miss.
            seq = pb.HeartbeatRequest.FromString(body).seq
            response = pb.HeartbeatResponse(seq=seq, stats=self._w.worker_stats())
            self._send(HEARTBEAT_ACK, call_id, response.SerializeToString())
        elif kind == RELEASE:
            self._lane.shm.release(_U32.unpack(body)[0])
        # Unknown kinds are ignored: a newer host may send frames this worker does not know.

    def _start(self, call_id: int, msg: lane_pb2.LaneCall) -> None:
        if self._w.draining:
            # No ErrorDetail, like grpc's own UNAVAILABLE from a server that is shutting down: the
            # host treats it as "not run here" and may retry it on another worker.
            code = grpc.StatusCode.UNAVAILABLE.value[0]
            self._send(ERROR, call_id, lane_pb2.LaneError(code=code).SerializeToString())
            return
        loop = self._loop
        deadline = loop.time() + msg.timeout_ms / 1000.0 if msg.timeout_ms > 0 else None
        call = _Call(deadline)
        call.credit = msg.credit
        self._calls[call_id] = call
        coro = self._serve(call_id, call, msg, deadline, self._stream if msg.stream else self._unary)
        task = self._eager(coro)
        if task is None:
            return  # it finished in its first step (its result is sent already)
        call.task = task
        self._lane.tasks.add(task)  # removed by _end, in the task itself (no done callback)
        if deadline is not None and deadline < self._timer_at:
            self._watch(deadline)

    def _eager(self, coro: collections.abc.Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Runs the first step of a call's coroutine now; returns its Task if it suspended there
        (the Task resumes it), None if it finished. The step runs in its own copy of the context
        and with a current task, as in a Task."""
        loop = self._loop
        if not _EAGER:
            return loop.create_task(coro)
        context = contextvars.copy_context()
        eager = _EagerTask(loop)
        try:
            _enter_task(loop, eager)  # type: ignore[arg-type]
        except RuntimeError:  # pragma: no cover - a task is running: not called from the reader
            return loop.create_task(coro)
        try:
            yielded = context.run(coro.send, None)
        except StopIteration:
            return None
        except BaseException as exc:  # noqa: BLE001 - _run answers every failure; this is a bug
            loop.call_exception_handler({"message": "call lane: a call's first step failed", "exception": exc})
            return None
        finally:
            _leave_task(loop, eager)  # type: ignore[arg-type]
        # The Task goes on in the very Context of the first step, not a copy of it: a contextvar
        # token made there (an OpenTelemetry span attached in Worker.track) must be reset in it.
        task: asyncio.Task[None] = loop.create_task(_Resume(coro, yielded), context=context)  # type: ignore[arg-type,call-arg,unused-ignore]
        eager.task = task
        if eager._requests:
            task.cancel()  # the tool cancelled its own current task in its first step
        return task

    def _watch(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        now = self._loop.time()
        nxt = float("inf")
        for call in list(self._calls.values()):
            if call.deadline is None or call.deadline_passed:
                continue
            if call.deadline <= now:
                call.deadline_passed = True  # the tool is cancelled; it fails as DEADLINE_EXCEEDED
                if call.task is not None:
                    call.task.cancel()
            elif call.deadline < nxt:
                nxt = call.deadline
        if nxt != float("inf"):
            self._watch(nxt)

    def _error(self, call_id: int, code: grpc.StatusCode, exc: BaseException, tool: str) -> None:
        detail = error_detail(exc, tool)
        self._send(ERROR, call_id, lane_pb2.LaneError(code=code.value[0], detail=detail).SerializeToString())

    def _fail(self, call_id: int, call: _Call, exc: BaseException, tool: str) -> None:
        if call.deadline_passed and isinstance(exc, (asyncio.CancelledError, Cancelled, DeadlineExceededError)):
            # As a gRPC server does at a deadline: no answer. The host's deadline passed first (it
            # set it before sending) and has settled the call with its own message.
            return
        self._error(call_id, status_for(exc), exc, tool)

    def _end(self, call_id: int, call: _Call) -> None:
        self._calls.pop(call_id, None)
        self._lane.tasks.discard(call.task)  # type: ignore[arg-type]

    # --- calls ------------------------------------------------------------------------------------

    async def _serve(
        self, call_id: int, call: _Call, msg: lane_pb2.LaneCall, deadline: float | None, answer: _Answer
    ) -> None:
        """One call on the lane, unary or stream: counted in the stats and prepared, then ``answer``
        runs the tool and sends its frames. Any failure becomes a LANE_ERROR frame. At the end the call
        is forgotten, and the shared buffers the tool allocated are removed unless ``answer`` put them
        in ``sent`` (the host removes or releases those, maybe after this)."""
        opened: _Opened | None = None
        try:
            with self._w.counting():
                opened = _Opened(*self._prepare(msg.request, deadline))
                await answer(call_id, call, msg, opened)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a LANE_ERROR frame
            self._fail(call_id, call, exc, msg.request.tool)
        finally:
            self._end(call_id, call)
            if opened is not None and opened.ctx._segments:
                for name in opened.ctx._segments:
                    if name not in opened.sent:
                        self._lane.shm.discard(name)

    def _prepare(self, request: pb.ExecuteRequest, deadline: float | None) -> tuple[Any, dict[str, Any], ToolContext]:
        """Worker.prepare, with arguments that came in shared memory mapped (not copied)."""
        shm = self._lane.shm
        data = None
        payload = request.payload
        if payload.HasField("shm"):
            if not shm.enabled:
                raise ValueError("arguments in shared memory on a lane that was opened without it")
            data = shm.map_argument(payload.shm.name, payload.shm.size)
        spec, kwargs, ctx = self._w.prepare(request, _LaneRpcContext(self._loop, deadline), data)  # type: ignore[arg-type]
        if shm.enabled:
            ctx._shm = shm
        if self._lane.host_calls and ctx._host is not None:
            ctx._host = self._host_link  # host tools over this lane, not the HostService RPC
        return spec, kwargs, ctx

    async def _unary(self, call_id: int, call: _Call, msg: lane_pb2.LaneCall, o: _Opened) -> None:
        w = self._w
        shm = self._lane.shm
        with w.track(o.ctx, _trace_headers(msg)):
            (data, content_type), duration_us = await w.runner.run(o.spec, o.kwargs, o.ctx)
        telemetry = o.ctx._telemetry.take() if o.ctx._telemetry is not None else None
        size = len(data) if isinstance(data, bytes) else data.nbytes
        if not (shm.enabled and size >= shm.threshold):
            body = encode_execute_response(
                data if type(data) is bytes else bytes(data),
                content_type,
                duration_us,
                telemetry.SerializeToString() if telemetry is not None else b"",
            )
            w.check_size_of(len(body), o.spec, "result")
            self._send(RESULT, call_id, body)
            return
        # Large: the bytes go by shared memory (no copy when the tool built them in
        # ctx.shared_buffer), the frame carries the segment's name.
        key, ref = shm.export(data)
        o.sent.add(key)
        try:
            response = pb.ExecuteResponse(
                result=common_pb2.Payload(content_type=content_type, shm=ref),
                duration_us=duration_us,
            )
            if telemetry is not None:
                response.telemetry.CopyFrom(telemetry)
            self._send(RESULT, call_id, response.SerializeToString())
        except BaseException:
            shm.discard(key)  # not sent after all
            raise

    async def _stream(self, call_id: int, call: _Call, msg: lane_pb2.LaneCall, o: _Opened) -> None:
        w = self._w
        shm = self._lane.shm
        with w.track(o.ctx, _trace_headers(msg)):
            index = 0
            async for data, content_type in w.runner.stream(o.spec, o.kwargs, o.ctx):
                size = len(data) if isinstance(data, bytes) else data.nbytes
                if shm.enabled and size >= shm.threshold:
                    key, ref = shm.export(data)
                    o.sent.add(key)
                    payload = common_pb2.Payload(content_type=content_type, shm=ref)
                    data = b""
                else:
                    payload = common_pb2.Payload(
                        data=data if type(data) is bytes else bytes(data), content_type=content_type
                    )
                item = pb.ExecuteStreamResponse(item=payload, index=index)
                w.finish_item(item, len(data) + len(content_type), o.spec, o.ctx, index)
                # Backpressure: no item beyond the host's credit (its highWaterMark), so a slow
                # consumer slows the generator down instead of filling memory.
                while call.credit <= 0:
                    call.credit_waiter = self._loop.create_future()
                    await call.credit_waiter
                call.credit -= 1
                self._send(ITEM, call_id, item.SerializeToString())
                index += 1
        self._send(END, call_id)


class _HostCall:
    """A host tool call in flight on the lane (what HostClient.start_call returns for gRPC)."""

    __slots__ = ("conn", "future", "id")

    def __init__(self, conn: LaneConnection, call_id: int, future: asyncio.Future[tuple[int, bytes]]) -> None:
        self.conn = conn
        self.id = call_id
        self.future = future

    def cancel(self) -> None:
        # Still unanswered (the awaiting task's cancellation has cancelled the future already, so
        # that cannot tell): the host tool's AbortSignal must fire.
        if self.conn._host_calls.pop(self.id, None) is not None:
            self.conn._send(HOST_CANCEL, self.id)
        self.future.cancel()


class LaneHostLink:
    """ToolContext's host link for calls that came over the lane: host tool calls go back over the
    same socket (LANE_HOST_CALL), which saves the grpc.aio client's per-call cost; errors and
    cancellation behave as over the HostService RPC (host.py)."""

    def __init__(self, conn: LaneConnection) -> None:
        self._conn = conn

    def start_call(
        self, tool: str, args: Any, session_id: str, call_id: str, timeout: float | None = None
    ) -> _HostCall:
        conn = self._conn
        data, content_type = encode_value(args)
        request = host_service_pb2.CallHostToolRequest(
            tool=tool,
            payload=common_pb2.Payload(data=data if type(data) is bytes else bytes(data), content_type=content_type),
            session_id=session_id,
            call_id=call_id,
            worker_pid=os.getpid(),
        )
        msg = lane_pb2.LaneHostCall(request=request, timeout_ms=max(timeout, 0.001) * 1000.0 if timeout else 0.0)
        hid = next(conn._host_ids)
        fut: asyncio.Future[tuple[int, bytes]] = conn._loop.create_future()
        conn._host_calls[hid] = fut
        conn._send(HOST_CALL, hid, msg.SerializeToString())
        return _HostCall(conn, hid, fut)

    @staticmethod
    async def finish_call(call: _HostCall) -> Any:
        kind, body = await call.future
        if kind == HOST_RESULT:
            result = host_service_pb2.CallHostToolResponse.FromString(body).result
            return decode_value(result.data, result.content_type)
        err = lane_pb2.LaneError.FromString(body)
        code = _STATUS_NAMES.get(err.code, f"STATUS_{err.code}")
        if not err.HasField("detail"):
            raise HostToolError(code, "the host call failed (the call lane closed)" if code == "UNAVAILABLE" else "")
        d = err.detail
        raise HostToolError(code, d.message, d.error_type, d.traceback)


class LaneServer:
    """The lane's listening socket; one per worker, bound next to its gRPC Unix socket."""

    #: The lanes of this process (one in a worker); lets a test tool or a chaos fault break them.
    instances: ClassVar[set[LaneServer]] = set()

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.token = secrets.token_bytes(32)
        self.path = ""
        #: Shared-memory payloads on this lane, as the host set them in OpenLane (off until then).
        self.shm = ShmConfig("", 0, 0)
        #: The host answers host tool calls on this lane (OpenLane); else they use HostService.
        self.host_calls = False
        self.connections: set[LaneConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, grpc_address: str) -> str:
        """Binds ``<grpc socket>.lane``; returns its path, or "" when the worker listens on TCP or
        the path would not fit in a Unix socket address (the host then uses the unary RPCs)."""
        if not grpc_address.startswith("unix:"):
            return ""
        path = grpc_address[len("unix:") :] + ".lane"
        if len(path.encode()) > 107:
            return ""
        factory: Callable[[], Any] = lambda: LaneConnection(self)  # noqa: E731
        self._server = await self.worker.loop.create_unix_server(factory, path)
        os.chmod(path, 0o600)
        self.path = path
        LaneServer.instances.add(self)
        return path

    async def stop(self, grace_s: float | None) -> None:
        """Takes no new connections; gives running lane calls ``grace_s`` (None: none) to finish,
        then cancels what is left."""
        LaneServer.instances.discard(self)
        if self._server is not None:
            self._server.close()
        if self.tasks and grace_s:
            await asyncio.wait(list(self.tasks), timeout=grace_s)
        for conn in list(self.connections):
            conn.abort()
        for task in list(self.tasks):
            task.cancel()
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
