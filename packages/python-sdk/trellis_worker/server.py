"""The grpc.aio server of one worker: the ToolService implementation and its bookkeeping."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

from ._stubs import common_pb2
from ._stubs import tool_service_pb2 as pb
from .constants import PROTOCOL, SDK_VERSION
from .context import ToolContext
from .errors import PayloadTooLargeError, UnknownToolError, ValidationError
from .guard import add_tool_service
from .lane import LaneServer
from .lifecycle import rss_bytes
from .payload import decode_arguments
from .runner import ToolRunner
from .sessions import SessionStore
from .shm import ShmConfig, shm_available
from .status import grpc_errors
from .telemetry import start_call_trace, trace_headers
from .tls import TlsFiles, server_credentials
from .tool import TOOL_NAME, ToolSpec

if TYPE_CHECKING:
    from .host import HostClient

#: More than the protobuf framing around a result's data (field tags, lengths, content type).
_FRAMING_SLACK = 4096

# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_UNIX_PATH = 107
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class ListenAddressError(ValueError):
    """--listen is not a Unix socket or a loopback address."""


def parse_listen(address: str, tls: bool = False) -> tuple[str, str]:
    """--listen value -> (address to bind, address to report before the port is known).

    Accepts ``unix:/abs/path``, ``unix:relative/path``, ``unix:///abs/path``, ``127.0.0.1:PORT``,
    ``localhost:PORT`` and ``[::1]:PORT`` (PORT 0 picks a free port). Any other ``HOST:PORT`` only
    with ``tls`` (the --tls-* files: client certificates required): a worker reachable from other
    machines must not take calls from anyone who can reach it.
    """
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise ListenAddressError("--listen unix: needs a socket path, e.g. unix:/tmp/trellis-w1.sock")
        path = os.path.abspath(path)
        # gRPC's own bind error only says "Failed to add port": name the usual cause here.
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise ListenAddressError(
                f"cannot listen on unix:{path}: the folder {folder} does not exist; create it first "
                f"(mkdir -p {folder}) or use a socket path in an existing folder"
            )
        if len(path.encode()) > MAX_UNIX_PATH:
            raise ListenAddressError(
                f"Unix socket path is {len(path.encode())} bytes, over the {MAX_UNIX_PATH}-byte limit: {path}; "
                "use a shorter directory (e.g. under /tmp)"
            )
        return f"unix:{path}", f"unix:{path}"
    host, sep, port = address.rpartition(":")
    if sep and host and port.isdigit() and host not in LOOPBACK_HOSTS:
        if tls:
            return address, host
        raise ListenAddressError(
            f"--listen {address!r} is not allowed without TLS: it is reachable from other machines, so the "
            "worker needs --tls-ca, --tls-cert and --tls-key (client certificates of that CA are then "
            "required); or listen on unix:/path/to.sock, 127.0.0.1:PORT or [::1]:PORT"
        )
    if not sep or host not in LOOPBACK_HOSTS or not port.isdigit():
        raise ListenAddressError(
            f"--listen {address!r} is not allowed: use unix:/path/to.sock, 127.0.0.1:PORT or [::1]:PORT "
            "(PORT 0 picks a free port)"
        )
    return address, host


def _as_bytes(data: bytes | memoryview) -> bytes:
    # A shared-memory buffer (encode_value keeps it a view for the lane) sent over gRPC is copied.
    return data if type(data) is bytes else bytes(data)


class WorkerStats:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.in_flight = 0
        self.calls_served = 0
        self.calls_failed = 0


class Worker:
    """One worker's server. Create inside the running event loop."""

    def __init__(
        self,
        *,
        tools: dict[str, ToolSpec],
        run_id: str,
        concurrency: int,
        max_message_bytes: int,
        host: HostClient | None = None,
        secret: bytes | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.tools = tools
        self.run_id = run_id
        self.concurrency = concurrency
        self.max_message_bytes = max_message_bytes
        self.host = host
        self.runner = ToolRunner(self.loop, concurrency)
        self.sessions = SessionStore()
        self.stats = WorkerStats()
        self.active: set[ToolContext] = set()
        self.draining = False
        self.address = ""
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                # Never share a TCP port with another process (Linux allows it by default in gRPC).
                ("grpc.so_reuseport", 0),
            ]
        )
        add_tool_service(self.server, ToolServicer(self), secret)
        self.lane = LaneServer(self)

    async def start(self, listen: str, tls: TlsFiles | None = None) -> str:
        """Binds and starts serving; returns the address to report (real port for port 0). With
        ``tls``, over mTLS (client certificates of its CA required). Raises ListenAddressError for a
        refused address, OSError when binding fails."""
        bind, report = parse_listen(listen, tls is not None)
        try:
            if tls is None:
                port = self.server.add_insecure_port(bind)
            else:
                port = self.server.add_secure_port(bind, server_credentials(tls))
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {bind}: {exc}") from None
        if port == 0:
            raise OSError(f"cannot listen on {bind} (address in use, or directory missing?)")
        await self.server.start()
        self.address = report if report.startswith("unix:") else f"{report}:{port}"
        await self.lane.start(self.address)
        return self.address

    def cancel_all(self) -> None:
        """Flags every running call as cancelled (sync tools see ctx.cancelled)."""
        for ctx in list(self.active):
            ctx._cancel()

    async def stop(self, grace_s: float | None) -> None:
        """Refuses new calls at once, lets in-flight ones finish for ``grace_s`` seconds (None: not
        at all), then cancels what is left."""
        self.draining = True
        # The lane's calls get the same grace as the RPCs, at the same time.
        await asyncio.gather(self.server.stop(grace_s), self.lane.stop(grace_s))
        self.cancel_all()
        self.runner.threads.shutdown()

    # --- per call ---------------------------------------------------------------------------------
    # Every call, unary or stream, over gRPC or the lane, is kept the same way:
    #     with w.counting():                 # the heartbeat's in_flight / served / failed
    #         spec, kwargs, ctx = w.prepare(...)
    #         with w.track(ctx, headers):    # cancellable by stop(), and its trace span
    #             ... run the tool ...
    # Why two: a call that fails in prepare (unknown tool, bad arguments) counts as served and
    # failed, but has no context to track yet.

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Counts one call in the worker's stats for as long as it runs."""
        stats = self.stats
        stats.in_flight += 1
        try:
            yield
        except BaseException:
            stats.calls_failed += 1
            raise
        finally:
            stats.in_flight -= 1
            stats.calls_served += 1

    @contextmanager
    def track(self, ctx: ToolContext, headers: Any) -> Iterator[None]:
        """While the tool runs: ``ctx`` is among the calls ``stop`` cancels, and the call's trace span
        (when tracing is on; ``headers`` carry the caller's traceparent) ends with its error, if any."""
        active = self.active
        active.add(ctx)
        trace = ctx._trace = start_call_trace(headers, ctx.tool, ctx.call_id, ctx.session_id)
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            active.discard(ctx)
            if trace is not None:
                trace.end(error)

    def prepare(
        self,
        request: pb.ExecuteRequest,
        context: grpc.aio.ServicerContext,
        data: bytes | memoryview | None = None,
    ) -> tuple[ToolSpec, dict[str, Any], ToolContext]:
        """``data``: the arguments' bytes when they are not in the request (a shared-memory view)."""
        spec = self.tools.get(request.tool)
        if spec is None:
            if not TOOL_NAME.match(request.tool):
                # Not a name any tool can have (garbage bytes that happened to decode): a bad
                # request, not a lookup worth answering with the tool list.
                raise ValidationError(
                    "tool",
                    f"malformed request: {request.tool[:40]!r} is not a tool name "
                    "(letters, digits, '_', '-', '.'; starting with a letter or '_')",
                )
            raise UnknownToolError(request.tool, list(self.tools))
        payload = request.payload
        content_type = payload.content_type
        arguments = decode_arguments(spec, payload.data if data is None else data, content_type)
        remaining = context.time_remaining()
        needs_timer = False
        if remaining is not None:
            deadline: float | None = time.monotonic() + remaining
        elif request.deadline_unix_ms:
            deadline = time.monotonic() + (request.deadline_unix_ms / 1000.0 - time.time())
            needs_timer = True  # no gRPC deadline: nobody else will cancel the call at this one
        else:
            deadline = None
        session_id = request.session_id
        ctx = ToolContext(
            tool=spec.name,
            call_id=request.call_id,
            session_id=session_id,
            session=self.sessions.get(session_id) if session_id else None,
            metadata=request.metadata,
            idempotent=request.idempotent,
            content_type=content_type,
            deadline=deadline,
            loop=self.loop,
            host=self.host,
        )
        ctx._needs_timer = needs_timer
        return spec, spec.bind(arguments, ctx), ctx

    def check_size(self, message: Message, data_len: int, spec: ToolSpec, what: str) -> None:
        # A message is its data plus a few dozen bytes of framing: only a result near the limit
        # needs the exact size.
        if data_len + _FRAMING_SLACK < self.max_message_bytes:
            return
        size = message.ByteSize()
        if size > self.max_message_bytes:
            raise PayloadTooLargeError(
                f"{what} of tool {spec.name!r} is {size} bytes, over this worker's message limit of "
                f"{self.max_message_bytes} bytes; return less data, stream it in smaller items, or raise "
                "--max-message-bytes"
            )

    def finish_item(
        self, item: pb.ExecuteStreamResponse, data_len: int, spec: ToolSpec, ctx: ToolContext, index: int
    ) -> None:
        """A stream item ready to send, the same on gRPC's ExecuteStream and on the lane: it carries
        the telemetry the tool recorded since the previous item, and fits the message limit."""
        if ctx._telemetry is not None:
            telemetry = ctx._telemetry.take()
            if telemetry is not None:
                item.telemetry.CopyFrom(telemetry)
        self.check_size(item, data_len, spec, f"stream item {index}")

    def check_size_of(self, size: int, spec: ToolSpec, what: str) -> None:
        """check_size for a message already encoded (``size`` bytes)."""
        if size > self.max_message_bytes:
            raise PayloadTooLargeError(
                f"{what} of tool {spec.name!r} is {size} bytes, over this worker's message limit of "
                f"{self.max_message_bytes} bytes; return less data, stream it in smaller items, or raise "
                "--max-message-bytes"
            )

    def worker_stats(self) -> pb.WorkerStats:
        return pb.WorkerStats(
            pid=os.getpid(),
            rss_bytes=rss_bytes(),
            in_flight=self.stats.in_flight,
            abandoned=self.runner.abandoned(),
            calls_served=self.stats.calls_served,
            calls_failed=self.stats.calls_failed,
            sessions=len(self.sessions),
            uptime_ms=int((time.monotonic() - self.stats.started) * 1000),
        )


class ToolServicer:
    """The ToolService methods; registered behind the secret check by guard.add_tool_service."""

    def __init__(self, worker: Worker) -> None:
        self._w = worker

    @grpc_errors
    async def Health(self, request: pb.HealthRequest, context: grpc.aio.ServicerContext) -> pb.HealthResponse:
        status = pb.HealthResponse.DRAINING if self._w.draining else pb.HealthResponse.SERVING
        return pb.HealthResponse(
            status=status, protocol=PROTOCOL, sdk_version=SDK_VERSION, run_id=self._w.run_id, pid=os.getpid()
        )

    @grpc_errors
    async def Ping(self, request: pb.PingRequest, context: grpc.aio.ServicerContext) -> pb.PingResponse:
        return pb.PingResponse(data=request.data)

    @grpc_errors
    async def Describe(self, request: pb.DescribeRequest, context: grpc.aio.ServicerContext) -> pb.DescribeResponse:
        w = self._w
        return pb.DescribeResponse(
            tools=[
                pb.ToolInfo(
                    name=s.name,
                    description=s.description,
                    parameters_json_schema=s.schema_json,
                    streaming=s.streaming,
                    raw_bytes_parameter=s.raw_bytes_param or "",
                    idempotent=s.idempotent,
                )
                for s in sorted(w.tools.values(), key=lambda s: s.name)
            ],
            protocol=PROTOCOL,
            sdk_version=SDK_VERSION,
            python_version="%d.%d.%d" % sys.version_info[:3],  # noqa: UP031 - platform costs 2 ms to import
            pid=os.getpid(),
            run_id=w.run_id,
            concurrency=w.concurrency,
            max_message_bytes=w.max_message_bytes,
        )

    @grpc_errors
    async def Execute(self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext) -> pb.ExecuteResponse:
        w = self._w
        with w.counting():
            spec, kwargs, ctx = w.prepare(request, context)
            with w.track(ctx, trace_headers(context.invocation_metadata())):
                (data, content_type), duration_us = await w.runner.run(spec, kwargs, ctx)
            response = pb.ExecuteResponse(
                result=common_pb2.Payload(data=_as_bytes(data), content_type=content_type),
                duration_us=duration_us,
            )
            if ctx._telemetry is not None:
                telemetry = ctx._telemetry.take()
                if telemetry is not None:
                    response.telemetry.CopyFrom(telemetry)
            w.check_size(response, len(data) + len(content_type), spec, "result")
            return response

    @grpc_errors
    async def ExecuteStream(
        self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExecuteStreamResponse]:
        w = self._w
        with w.counting():
            spec, kwargs, ctx = w.prepare(request, context)
            with w.track(ctx, trace_headers(context.invocation_metadata())):
                index = 0
                async for data, content_type in w.runner.stream(spec, kwargs, ctx):
                    item = pb.ExecuteStreamResponse(
                        item=common_pb2.Payload(
                            data=data if type(data) is bytes else bytes(data), content_type=content_type
                        ),
                        index=index,
                    )
                    w.finish_item(item, len(data) + len(content_type), spec, ctx, index)
                    yield item
                    index += 1

    @grpc_errors
    async def Heartbeat(self, request: pb.HeartbeatRequest, context: grpc.aio.ServicerContext) -> pb.HeartbeatResponse:
        return pb.HeartbeatResponse(seq=request.seq, stats=self._w.worker_stats())

    @grpc_errors
    async def OpenLane(self, request: pb.OpenLaneRequest, context: grpc.aio.ServicerContext) -> pb.OpenLaneResponse:
        lane = self._w.lane
        prefix = request.shm_prefix
        if lane.path and prefix.startswith("trellis-shm.") and "/" not in prefix and shm_available():
            lane.shm = ShmConfig(prefix, request.shm_threshold_bytes, request.max_shm_bytes, request.memfd_results)
        lane.host_calls = request.host_calls
        return pb.OpenLaneResponse(path=lane.path, token=lane.token if lane.path else b"", heartbeats=bool(lane.path))

    @grpc_errors
    async def EndSession(
        self, request: pb.EndSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.EndSessionResponse:
        return pb.EndSessionResponse(existed=self._w.sessions.end(request.session_id))
