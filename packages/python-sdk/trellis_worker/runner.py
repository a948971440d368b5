"""Runs one tool call: sync tools on the worker's tool threads, async tools on the event loop,
generators as bounded streams; enforces the call's deadline and the worker's concurrency limit.

A concurrency slot is held until the work has really stopped: a sync tool whose caller went away
keeps running on its thread until it returns (Python threads cannot be killed), and its slot stays
taken until then, so ``--concurrency`` bounds the threads actually busy, not just the open RPCs.
Such an execution is *abandoned* (its call is over, its slot is not): the heartbeat reports how
many there are, and the host stops sending calls into those slots and recycles a worker that keeps
them (docs/grpc-bridge.md, "Stuck tools").

The per-call path is kept lean on purpose (it is most of the SDK's cost over a bare grpcio server):
a free slot is taken without a coroutine, a sync tool costs one hand-off to a tool thread and one
wake-up of the event loop, and no timer is armed when the RPC has a gRPC deadline (grpc cancels
the handler at that deadline itself; the SDK's own timer only serves a deadline sent in the request).
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from .constants import DEFAULTS
from .context import ToolContext
from .errors import Cancelled, DeadlineExceededError, StreamingMismatchError
from .payload import encode_value
from .tool import ToolSpec

try:
    from _queue import SimpleQueue  # the C queue itself: queue.py would add its own imports
except ImportError:  # pragma: no cover - other interpreters
    from queue import SimpleQueue

T = TypeVar("T")
_HAS_TIMEOUT = hasattr(asyncio, "timeout")
Encoded = tuple[bytes | memoryview, str]

# A job for a tool thread: (function, keyword arguments, future of the call or None, context).
_Job = tuple[Callable[..., Any], "dict[str, Any] | None", "asyncio.Future[Any] | None", ToolContext]


class ToolThreads:
    """The tool threads of one worker: at most ``size`` threads, started on demand, fed from one
    queue. A job's end is reported to the event loop with a single call_soon_threadsafe (result and
    slot release together), so a sync call costs one wake-up of the loop, not two."""

    def __init__(self, runner: ToolRunner, size: int) -> None:
        self._runner = runner
        self._size = size
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._started = 0
        self._jobs = 0  # submitted and not yet reported done; only touched on the event loop
        self.closed = False

    def submit(self, job: _Job) -> None:
        self._jobs += 1
        # Every job holds a concurrency slot, so jobs <= size: a thread is started only when all
        # threads are taken, and there never are more than `size`.
        if self._jobs > self._started and self._started < self._size:
            self._started += 1
            threading.Thread(target=self._work, name=f"trellis-tool-{self._started}", daemon=True).start()
        self._queue.put(job)

    def job_done(self) -> None:
        self._jobs -= 1

    def shutdown(self) -> None:
        """Idle threads exit; queued jobs that have not started are dropped (their calls are over)."""
        self.closed = True
        for _ in range(self._started):
            self._queue.put(None)

    def _work(self) -> None:
        get = self._queue.get
        done = self._runner._job_finished
        loop = self._runner._loop
        while True:
            job = get()
            if job is None:
                return
            fn, kwargs, fut, ctx = job
            if self.closed:
                outcome: Any = _Raised(Cancelled("the worker is shutting down; the tool did not run"))
            elif ctx._trace is not None:
                # A traced call: the tool runs in the call's contextvars (its OpenTelemetry span).
                outcome = ctx._trace.context.run(_run_job, fn, kwargs, fut, ctx)
            elif fut is None:
                fn()  # a stream producer: delivers its own items and errors
                outcome = None
            else:
                outcome = _call_sync(fn, kwargs, ctx)
            try:
                loop.call_soon_threadsafe(done, fut, outcome, ctx)
            except RuntimeError:
                pass  # the loop is closed: the worker is exiting and nobody needs the result


class ToolRunner:
    def __init__(self, loop: asyncio.AbstractEventLoop, concurrency: int) -> None:
        self._loop = loop
        self._concurrency = concurrency
        self._free = concurrency
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        # Executions holding a slot, by their context (which says whether their call is over).
        self._holders: set[ToolContext] = set()
        self.threads = ToolThreads(self, concurrency)

    # --- slots ----------------------------------------------------------------------------------

    def busy_slots(self) -> int:
        """Tool executions holding a slot, abandoned ones included."""
        return len(self._holders)

    def abandoned(self) -> int:
        """Executions still holding a slot although their call is over: cancelled (client gone,
        deadline passed, worker draining) or past their deadline. Usually a sync tool that ignores
        ctx.cancelled, which keeps its thread until it returns by itself."""
        if not self._holders:
            return 0
        now = time.monotonic()
        return sum(1 for c in self._holders if c._cancelled or (c.deadline is not None and c.deadline <= now))

    async def _acquire(self, ctx: ToolContext) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1  # a free slot is taken without suspending
        else:
            fut = self._loop.create_future()
            self._waiters.append(fut)
            try:
                await self._with_deadline(fut, ctx)
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._release()  # handed a slot just as the wait ended: pass it on
                else:
                    try:
                        self._waiters.remove(fut)
                    except ValueError:
                        pass
                raise
        self._holders.add(ctx)

    def _release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot goes straight to the next waiter
                return
        self._free += 1

    def _release_holder(self, ctx: ToolContext) -> None:
        self._holders.discard(ctx)
        self._release()

    def _job_finished(self, fut: asyncio.Future[Any] | None, outcome: Any, ctx: ToolContext) -> None:
        """On the event loop, when a tool thread is done with a job: the slot is free again."""
        self.threads.job_done()
        self._release_holder(ctx)
        if fut is not None and not fut.done():
            fut.set_result(outcome)

    async def _with_deadline(self, aw: Awaitable[T], ctx: ToolContext) -> T:
        # With a gRPC deadline, grpc cancels the handler at that deadline: no timer of our own.
        if not ctx._needs_timer:
            return await aw
        remaining = ctx.time_remaining()
        assert remaining is not None
        if remaining <= 0:
            if asyncio.iscoroutine(aw):
                aw.close()
            raise DeadlineExceededError(f"tool {ctx.tool!r}: the call's deadline passed before it could run")
        try:
            if _HAS_TIMEOUT:
                # asyncio.timeout (3.11+) arms one timer on the current task; wait_for would also
                # create a Task per call.
                async with asyncio.timeout(remaining):  # type: ignore[attr-defined,unused-ignore]
                    return await aw
            return await asyncio.wait_for(aw, remaining)
        except asyncio.TimeoutError:
            left = ctx.time_remaining()
            if left is not None and left <= 0:  # ours, not a TimeoutError raised by the tool
                ctx._cancel()
                raise DeadlineExceededError(f"tool {ctx.tool!r} did not finish within the call's deadline") from None
            raise

    # --- unary ----------------------------------------------------------------------------------

    async def run(self, spec: ToolSpec, kwargs: dict[str, Any], ctx: ToolContext) -> tuple[Encoded, int]:
        """Runs a non-streaming tool; returns its encoded result and how long it ran (µs)."""
        if spec.streaming:
            raise StreamingMismatchError(
                f"tool {spec.name!r} is a generator (streaming tool): call it with ExecuteStream"
            )
        if ctx.deadline is not None and ctx.deadline <= time.monotonic():
            raise DeadlineExceededError(f"tool {ctx.tool!r}: the call's deadline passed before it could run")
        await self._acquire(ctx)
        try:
            started = time.perf_counter()
            if spec.kind == "sync":
                fut = self._loop.create_future()
                self.threads.submit((spec.fn, kwargs, fut, ctx))  # the thread owns the slot now
                outcome = await self._with_deadline(fut, ctx)
                if isinstance(outcome, _Raised):
                    raise outcome.exc
                encoded = outcome
            else:
                try:
                    value = await self._with_deadline(spec.fn(**kwargs), ctx)
                finally:
                    self._release_holder(ctx)
                encoded = encode_value(value, ctx.shared_buffer)
            return encoded, int((time.perf_counter() - started) * 1e6)
        except BaseException:
            ctx._cancel()  # a sync tool still running on its thread sees ctx.cancelled
            raise

    # --- streaming ------------------------------------------------------------------------------

    async def stream(self, spec: ToolSpec, kwargs: dict[str, Any], ctx: ToolContext) -> AsyncIterator[Encoded]:
        """Runs any tool as a stream of encoded items (a non-streaming tool gives one item)."""
        if not spec.streaming:
            encoded, _ = await self.run(spec, kwargs, ctx)
            yield encoded
            return
        if ctx.deadline is not None and ctx.deadline <= time.monotonic():
            raise DeadlineExceededError(f"tool {ctx.tool!r}: the call's deadline passed before it could run")
        await self._acquire(ctx)
        try:
            if spec.kind == "async_generator":
                async for item in self._async_items(spec, kwargs, ctx):
                    yield item
            else:
                async for item in self._thread_items(spec, kwargs, ctx):
                    yield item
        finally:
            ctx._cancel()  # stops a producer thread that is still running (client gone, error)

    async def _async_items(self, spec: ToolSpec, kwargs: dict[str, Any], ctx: ToolContext) -> AsyncIterator[Encoded]:
        try:
            agen = spec.fn(**kwargs)
        except BaseException:
            self._release_holder(ctx)
            raise
        try:
            while True:
                try:
                    item = await self._with_deadline(agen.__anext__(), ctx)
                except StopAsyncIteration:
                    return
                yield encode_value(item)
        finally:
            try:
                await agen.aclose()
            except RuntimeError:
                pass  # still running in a cancelled __anext__: it is being torn down already
            finally:
                self._release_holder(ctx)

    async def _thread_items(self, spec: ToolSpec, kwargs: dict[str, Any], ctx: ToolContext) -> AsyncIterator[Encoded]:
        # The generator lives entirely on one tool thread (a generator must not be resumed from two
        # threads). It may run at most DEFAULTS.stream_buffer items ahead of the gRPC stream, so a
        # slow client slows the tool down instead of filling memory.
        items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        space = threading.Semaphore(DEFAULTS.stream_buffer)
        loop = self._loop
        cancel = ctx.cancel_event

        def post(message: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, message)
            except RuntimeError:
                pass  # loop closed: the worker is exiting

        def produce() -> None:
            try:
                gen = spec.fn(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - delivered to the RPC as its status
                post(("error", exc))
                return
            try:
                for item in gen:
                    encoded = encode_value(item)
                    # Wait for room; bounded by the call's lifetime, which always ends in
                    # ctx._cancel() (normal end, error, client gone, deadline or shutdown).
                    while not space.acquire(timeout=0.05):
                        if cancel.is_set():
                            return
                    if cancel.is_set():
                        return
                    post(("item", encoded))
                post(("end", None))
            except BaseException as exc:  # noqa: BLE001 - delivered to the RPC as its status
                post(("error", exc))
            finally:
                gen.close()

        self.threads.submit((produce, None, None, ctx))
        while True:
            kind, value = await self._with_deadline(items.get(), ctx)
            if kind == "item":
                space.release()
                yield value
            elif kind == "end":
                return
            else:
                raise value


class _Raised:
    """An exception crossing from a tool thread as a value, with its traceback intact."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _run_job(
    fn: Callable[..., Any], kwargs: dict[str, Any] | None, fut: Any, ctx: ToolContext
) -> Encoded | _Raised | None:
    if fut is None:
        fn()
        return None
    return _call_sync(fn, kwargs, ctx)


def _call_sync(fn: Callable[..., Any], kwargs: dict[str, Any] | None, ctx: ToolContext) -> Encoded | _Raised:
    # Encoding runs on the tool thread too, so a large JSON result never stalls the event loop.
    try:
        return encode_value(fn(**kwargs) if kwargs else fn(), ctx.shared_buffer)
    except BaseException as exc:  # noqa: BLE001 - re-raised on the event loop
        return _Raised(exc)
