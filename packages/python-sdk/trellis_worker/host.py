"""The worker's client of the host's HostService: host tool calls and log forwarding.

Log records are handed over by a logging.Handler (any thread), buffered in a bounded deque and
sent in batches by one task on the event loop. When the host cannot be reached, the batch is
written to stderr instead, so no record is silently lost while the worker runs; when the buffer
overflows, the oldest records are dropped and the count is reported in the next LogRequest.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import sys
import threading
import traceback
from typing import Any

import grpc

from ._stubs import common_pb2, host_service_pb2, host_service_pb2_grpc
from .constants import DEFAULTS
from .errors import HostToolError
from .log_format import STDERR_FORMAT, StderrFormatter  # noqa: F401 - re-exported
from .payload import decode_value, encode_value
from .status import decode_error_detail
from .tls import TlsFiles, channel_credentials


def to_log_record(record: logging.LogRecord) -> host_service_pb2.LogRecord:
    tb = ""
    if record.exc_info:
        tb = "".join(traceback.format_exception(*record.exc_info))
    return host_service_pb2.LogRecord(
        level=record.levelno,
        level_name=record.levelname,
        logger=record.name,
        message=record.getMessage(),
        time_unix_ms=record.created * 1000.0,
        call_id=getattr(record, "trellis_call_id", ""),
        session_id=getattr(record, "trellis_session_id", ""),
        tool=getattr(record, "trellis_tool", ""),
        traceback=tb,
    )


class HostLogHandler(logging.Handler):
    def __init__(self, client: HostClient) -> None:
        super().__init__()
        self._client = client

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._client.enqueue_log(to_log_record(record))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


class _WithSecret(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the pool's secret to every call to the host (its HostService checks it)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = list(details.metadata or ()) + [("trellis-secret", self._secret)]
        details = grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )
        return await continuation(details, request)


class HostClient:
    """Connection to the host's HostService at ``address`` (e.g. "unix:/run/trellis/host.sock")."""

    def __init__(
        self, address: str, max_message_bytes: int, secret: bytes | None = None, tls: TlsFiles | None = None
    ) -> None:
        self.address = address
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        # The host refuses calls without its per-run secret (guard.py has the worker's side).
        interceptors = [_WithSecret(secret.decode())] if secret else None
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
        else:
            # A host on another node (issue 15): mTLS with this worker's certificate; dialled by IP,
            # its certificate names it by DNS name.
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override", tls.server_name))
            self._channel = grpc.aio.secure_channel(
                address, channel_credentials(tls), options=options, interceptors=interceptors
            )
        self._stub = host_service_pb2_grpc.HostServiceStub(self._channel)
        self._lock = threading.Lock()
        self._buffer: collections.deque[host_service_pb2.LogRecord] = collections.deque()
        self._dropped = 0
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._sender: asyncio.Task[None] | None = None

    # --- host tools -----------------------------------------------------------------------------

    def start_call(
        self, tool: str, args: Any, session_id: str, call_id: str, timeout: float | None = None
    ) -> grpc.aio.UnaryUnaryCall:
        """Starts a host tool call; await the returned call with ``finish_call``. ``timeout``
        (seconds) becomes the RPC's gRPC deadline (the host tool's AbortSignal fires when it passes);
        ``call.cancel()`` cancels it (the AbortSignal fires too)."""
        data, content_type = encode_value(args)
        request = host_service_pb2.CallHostToolRequest(
            tool=tool,
            payload=common_pb2.Payload(data=data, content_type=content_type),  # type: ignore[arg-type]  # protobuf takes a memoryview too
            session_id=session_id,
            call_id=call_id,
            worker_pid=os.getpid(),
        )
        return self._stub.CallHostTool(request, timeout=timeout)

    @staticmethod
    async def finish_call(call: grpc.aio.UnaryUnaryCall) -> Any:
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            detail = decode_error_detail(exc.trailing_metadata())
            if detail is None:
                raise HostToolError(exc.code().name, exc.details() or "") from None
            raise HostToolError(exc.code().name, detail.message, detail.error_type, detail.traceback) from None
        return decode_value(response.result.data, response.result.content_type)

    async def call_tool(self, tool: str, args: Any, session_id: str, call_id: str, timeout: float | None = None) -> Any:
        """Runs a host tool (see start_call); cancelling the awaiting task cancels the RPC."""
        call = self.start_call(tool, args, session_id, call_id, timeout)
        try:
            return await self.finish_call(call)
        except asyncio.CancelledError:
            call.cancel()
            raise

    # --- logs -----------------------------------------------------------------------------------

    def enqueue_log(self, record: host_service_pb2.LogRecord) -> None:
        with self._lock:
            if len(self._buffer) >= DEFAULTS.log_buffer:
                self._buffer.popleft()
                self._dropped += 1
            self._buffer.append(record)
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            pass  # loop closed: flush() already ran

    def start(self) -> None:
        self._sender = asyncio.ensure_future(self._send_loop())

    def _take_batch(self) -> tuple[list[host_service_pb2.LogRecord], int]:
        with self._lock:
            n = min(len(self._buffer), DEFAULTS.log_batch)
            batch = [self._buffer.popleft() for _ in range(n)]
            dropped, self._dropped = self._dropped, 0
        return batch, dropped

    async def _send_batch(self) -> bool:
        batch, dropped = self._take_batch()
        if not batch and not dropped:
            return False
        request = host_service_pb2.LogRequest(records=batch, worker_pid=os.getpid(), dropped=dropped)
        try:
            await self._stub.Log(request, timeout=DEFAULTS.log_rpc_timeout_s)
        except grpc.aio.AioRpcError as exc:
            print(
                f"trellis_worker: could not forward logs to host {self.address}: {exc.code().name}",
                file=sys.stderr,
            )
            for r in batch:
                print(
                    f"{r.level_name} {r.logger}: {r.message}{(chr(10) + r.traceback) if r.traceback else ''}",
                    file=sys.stderr,
                )
        return True

    async def _send_loop(self) -> None:
        # Runs for the worker's lifetime; each turn waits for records or the flush interval.
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), DEFAULTS.log_flush_interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            while await self._send_batch():
                pass

    async def close(self, timeout: float) -> None:
        """Sends what is buffered (bounded by ``timeout`` seconds), then closes the channel."""
        if self._sender is not None:
            self._sender.cancel()
            try:
                await self._sender
            except asyncio.CancelledError:
                pass
        try:
            await asyncio.wait_for(self._drain(), timeout)
        except asyncio.TimeoutError:
            pass
        await self._channel.close()

    async def _drain(self) -> None:
        for _ in range(DEFAULTS.log_buffer // DEFAULTS.log_batch + 1):
            if not await self._send_batch():
                return
