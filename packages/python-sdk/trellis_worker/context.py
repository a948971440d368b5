"""ToolContext: what a running tool can learn about, and do within, its call."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .errors import Cancelled, DeadlineExceededError

if TYPE_CHECKING:
    from .shm import ShmConfig
    from .telemetry import CallTelemetry, CallTrace

_EVENT_LOCK = threading.Lock()


class HostLink(Protocol):
    """The worker's connection to the host's HostService (see host.py)."""

    def start_call(self, tool: str, args: Any, session_id: str, call_id: str, timeout: float | None = None) -> Any: ...

    async def finish_call(self, call: Any) -> Any: ...


class ToolContext:
    """Passed to a tool whose parameter is annotated ``ToolContext`` or named ``ctx``.

    Attributes: ``tool``, ``call_id``, ``session_id``, ``metadata`` (request metadata map),
    ``idempotent``, ``content_type`` (of the arguments payload), ``deadline`` (``time.monotonic()``
    value or None), ``session`` (a dict kept per session id until EndSession; a fresh unkept dict
    when the call has no session id), ``log`` (a logger forwarded to the host), ``cancel_event``
    (a threading.Event set when the call is cancelled, times out or the worker shuts down).

    Built for every call, so what most tools never touch (the logger, the events, the metadata
    copy, a made-up call id) is created on first use: a call pays only for what its tool uses.
    """

    def __init__(
        self,
        *,
        tool: str,
        call_id: str,
        session_id: str,
        session: dict[str, Any] | None,
        metadata: Mapping[str, str],
        idempotent: bool,
        content_type: str,
        deadline: float | None,
        loop: asyncio.AbstractEventLoop,
        host: HostLink | None,
    ) -> None:
        self.tool = tool
        self._call_id = call_id
        self.session_id = session_id
        self._session = session
        self._metadata_src = metadata
        self._metadata: dict[str, str] | None = None
        self.idempotent = idempotent
        self.content_type = content_type
        self.deadline = deadline
        # True when the deadline is only the request's deadline_unix_ms: the SDK must time the call
        # itself (with a gRPC deadline, grpc cancels the handler when it passes).
        self._needs_timer = False
        self._cancelled = False
        self._event: threading.Event | None = None
        self._async_event: asyncio.Event | None = None
        self._log: logging.LoggerAdapter[logging.Logger] | None = None
        self._loop = loop
        self._host = host
        self._cancel_hooks: list[Callable[[], Any]] | None = None
        # Set by the server when the host sent a trace context and opentelemetry is installed.
        self._trace: CallTrace | None = None
        self._telemetry: CallTelemetry | None = None
        # Set by the call lane when it carries shared-memory payloads (shm.py); the segments this
        # call allocated, removed at its end unless sent back as its result.
        self._shm: ShmConfig | None = None
        self._segments: list[str] | None = None

    # --- lazily built members -------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        if not self._call_id:
            import uuid  # only for callers that send no call id

            self._call_id = uuid.uuid4().hex
        return self._call_id

    @property
    def session(self) -> dict[str, Any]:
        if self._session is None:
            self._session = {}  # no session id: state lives for this call only
        return self._session

    @property
    def metadata(self) -> dict[str, str]:
        if self._metadata is None:
            self._metadata = dict(self._metadata_src)
        return self._metadata

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        if self._log is None:
            self._log = logging.LoggerAdapter(
                logging.getLogger(f"trellis_worker.tool.{self.tool}"),
                {"trellis_call_id": self.call_id, "trellis_session_id": self.session_id, "trellis_tool": self.tool},
            )
        return self._log

    @property
    def cancel_event(self) -> threading.Event:
        event = self._event
        if event is None:
            with _EVENT_LOCK:  # a tool thread and the event loop may both get here first
                event = self._event
                if event is None:
                    event = threading.Event()
                    self._event = event
            # _cancel() sets the flag before it looks for an event: either it saw this one, or the
            # flag is already visible here.
            if self._cancelled:
                event.set()
        return event

    @property
    def cancelled(self) -> bool:
        """True once the call is cancelled, has passed its deadline, or the worker is shutting down."""
        return self._cancelled

    def shared_buffer(self, nbytes: int) -> memoryview:
        """A writable buffer of ``nbytes`` to build a large result in, for ``@tool(zero_copy=True)``.

        Over the call lane with shared memory it is a new shared-memory segment: return it (or a
        NumPy array over it, ``np.frombuffer(buf, dtype)``) and it reaches the caller with no copy.
        Elsewhere (a unary gRPC call, a small result) it is ordinary memory and the result is sent
        as usual. Raises PayloadTooLargeError over the pool's ``maxShmBytes``.
        """
        shm = self._shm
        if shm is None or not shm.enabled or nbytes < shm.threshold:
            return memoryview(bytearray(nbytes))
        view = shm.allocate(nbytes)
        from .shm import segment_of

        seg = segment_of(view)
        assert seg is not None
        if self._segments is None:
            self._segments = []
        self._segments.append(seg.segment_name)
        return view

    def raise_if_cancelled(self) -> None:
        """Raises trellis_worker.Cancelled (-> status CANCELLED) if the call was cancelled."""
        if self._cancelled:
            raise Cancelled(f"call {self.call_id} of tool {self.tool!r} was cancelled")

    async def wait_cancelled(self) -> None:
        """Returns when the call is cancelled (async tools only)."""
        if self._async_event is None:
            self._async_event = asyncio.Event()
            if self._cancelled:
                self._async_event.set()
        await self._async_event.wait()

    # --- telemetry (see telemetry.py) -------------------------------------------------------------

    def _collector(self) -> CallTelemetry:
        if self._telemetry is None:
            from .telemetry import CallTelemetry

            self._telemetry = CallTelemetry()
        return self._telemetry

    def metric(
        self,
        name: str,
        value: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
        *,
        kind: str = "counter",
        unit: str = "",
    ) -> None:
        """Records a metric point that the host adds to its OpenTelemetry meter (instrument
        ``name``, labelled with the pool and tool besides ``attributes``). ``kind``: "counter"
        (``value`` is added), "histogram" (recorded) or "gauge" (last value wins). Sent back with
        the call's result; a call that fails drops them."""
        self._collector().metric(name, value, attributes, kind, unit)

    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[None]:
        """``with ctx.span("parse"):`` times a block as a span under the host's call span. With
        Python's OpenTelemetry SDK recording, it is a real Python span; otherwise the host makes it
        from the block's start and end times. An exception leaving the block marks it failed."""
        trace = self._trace
        if trace is not None and trace.span.is_recording():
            from .telemetry import otel_span

            return otel_span(name, attributes)
        return self._collector().span(name, attributes)

    def time_remaining(self) -> float | None:
        """Seconds until the call's deadline (may be negative), or None when it has none."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    async def call_host_tool(self, tool: str, args: Any = None) -> Any:
        """Runs a tool of the host and returns its result (parsed JSON, or bytes).

        ``args`` is a dict of JSON arguments, or bytes / trellis_worker.Payload for a raw payload.
        The call's deadline is the host call's deadline, and cancelling this call (the host's
        caller cancelled it, its deadline passed, the worker shuts down) cancels the host call:
        the host tool's AbortSignal fires and this raises Cancelled (async tools: their own
        CancelledError). Raises HostToolError when the host tool fails (``error_type``,
        ``detail_message`` and ``remote_traceback`` carry the JavaScript error's name, message and
        stack), RuntimeError when the worker has no host.
        """
        if self._host is None:
            raise RuntimeError("this worker has no host connection: start it with --host-address unix:/path")
        self.raise_if_cancelled()
        remaining = self.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceededError(f"tool {self.tool!r}: no time left for host tool {tool!r}")
        call = self._host.start_call(tool, {} if args is None else args, self.session_id, self.call_id, remaining)
        # This call's cancellation (which a sync tool's thread cannot see while it blocks on the
        # result) cancels the RPC: no extra task per host call, just a hook run by _cancel().
        if self._cancel_hooks is None:
            self._cancel_hooks = []
        self._cancel_hooks.append(call.cancel)
        try:
            return await self._host.finish_call(call)
        except asyncio.CancelledError:
            call.cancel()
            task = asyncio.current_task()
            if self._cancelled and not (task is not None and getattr(task, "cancelling", lambda: 0)()):
                raise Cancelled(
                    f"call {self.call_id} of tool {self.tool!r} was cancelled during host tool {tool!r}"
                ) from None
            raise
        finally:
            self._cancel_hooks.remove(call.cancel)

    def call_host_tool_sync(self, tool: str, args: Any = None, timeout: float | None = None) -> Any:
        """Blocking form of call_host_tool for sync tools (they run on a worker thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("call_host_tool_sync would block the event loop: use `await ctx.call_host_tool(...)`")
        if timeout is None:
            timeout = self.time_remaining()
        future = asyncio.run_coroutine_threadsafe(self.call_host_tool(tool, args), self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # cancels the host call too
            raise DeadlineExceededError(
                f"tool {self.tool!r}: host tool {tool!r} did not answer within {timeout:.3f} s"
            ) from None

    def _cancel(self) -> None:
        """Marks the call cancelled (and cancels its host calls). Must run on the event loop thread."""
        if self._cancelled:
            return
        self._cancelled = True
        if self._event is not None:
            self._event.set()
        if self._async_event is not None:
            self._async_event.set()
        if self._cancel_hooks:
            for hook in list(self._cancel_hooks):
                hook()
