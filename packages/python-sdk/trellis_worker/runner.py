"""Runs one tool call: sync tools on the thread pool, async tools on the event loop, generators
as bounded streams; enforces the call's deadline and the worker's concurrency limit.

A concurrency slot is held until the work has really stopped: a sync tool whose caller went away
keeps running on its thread until it returns (Python threads cannot be killed), and its slot stays
taken until then, so ``--concurrency`` bounds the threads actually busy, not just the open RPCs.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from .constants import DEFAULTS
from .context import ToolContext
from .errors import DeadlineExceededError, StreamingMismatchError
from .payload import encode_value
from .tool import ToolSpec

T = TypeVar("T")
Encoded = tuple[bytes, str]


_HAS_TIMEOUT = hasattr(asyncio, "timeout")


class ToolRunner:
    def __init__(self, loop: asyncio.AbstractEventLoop, concurrency: int) -> None:
        self._loop = loop
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="trellis-tool")

    # --- slots ----------------------------------------------------------------------------------

    def busy_slots(self) -> int:
        """Tool executions holding a slot, including sync tools still running after their call was
        cancelled or timed out (a thread cannot be stopped). The host compares this with its own count
        of calls in flight to notice a worker wedged by a tool that ignores cancellation."""
        return self._concurrency - self._slots._value  # asyncio.Semaphore keeps its count in _value

    def _release_from_thread(self, _: Future[Any]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._slots.release)
        except RuntimeError:
            pass  # the loop is closed: the worker is exiting and nobody needs the slot

    async def _with_deadline(self, aw: Awaitable[T], ctx: ToolContext) -> T:
        remaining = ctx.time_remaining()
        if remaining is None:
            return await aw
        if remaining <= 0:
            if inspect.iscoroutine(aw):
                aw.close()
            raise DeadlineExceededError(f"tool {ctx.tool!r}: the call's deadline passed before it could run")
        try:
            if _HAS_TIMEOUT:
                # asyncio.timeout (3.11+) arms one timer on the current task; wait_for would also
                # create a Task per call, which costs more than a bare grpcio call's whole overhead.
                async with asyncio.timeout(remaining):
                    return await aw
            return await asyncio.wait_for(aw, remaining)
        except asyncio.TimeoutError:
            left = ctx.time_remaining()
            if left is not None and left <= 0:  # ours, not a TimeoutError raised by the tool
                ctx._cancel()
                raise DeadlineExceededError(f"tool {ctx.tool!r} did not finish within the call's deadline") from None
            raise

    # --- unary ----------------------------------------------------------------------------------

    async def run(self, spec: ToolSpec, bound: inspect.BoundArguments, ctx: ToolContext) -> tuple[Encoded, int]:
        """Runs a non-streaming tool; returns its encoded result and how long it ran (µs)."""
        if spec.streaming:
            raise StreamingMismatchError(
                f"tool {spec.name!r} is a generator (streaming tool): call it with ExecuteStream"
            )
        if self._slots.locked():
            await self._with_deadline(self._slots.acquire(), ctx)
        else:
            await self._slots.acquire()  # a free slot is taken without suspending: no deadline needed
        try:
            started = time.perf_counter()
            if spec.kind == "sync":
                cf = self.executor.submit(_call_sync, spec, bound)
                cf.add_done_callback(self._release_from_thread)  # the thread owns the slot now
                outcome = await self._with_deadline(asyncio.wrap_future(cf, loop=self._loop), ctx)
                if isinstance(outcome, _Raised):
                    raise outcome.exc
                encoded = outcome
            else:
                try:
                    value = await self._with_deadline(spec.fn(*bound.args, **bound.kwargs), ctx)
                finally:
                    self._slots.release()
                encoded = encode_value(value)
            return encoded, int((time.perf_counter() - started) * 1e6)
        except BaseException:
            ctx._cancel()  # a sync tool still running on its thread sees ctx.cancelled
            raise

    # --- streaming ------------------------------------------------------------------------------

    async def stream(self, spec: ToolSpec, bound: inspect.BoundArguments, ctx: ToolContext) -> AsyncIterator[Encoded]:
        """Runs any tool as a stream of encoded items (a non-streaming tool gives one item)."""
        if not spec.streaming:
            encoded, _ = await self.run(spec, bound, ctx)
            yield encoded
            return
        if self._slots.locked():
            await self._with_deadline(self._slots.acquire(), ctx)
        else:
            await self._slots.acquire()
        try:
            if spec.kind == "async_generator":
                async for item in self._async_items(spec, bound, ctx):
                    yield item
            else:
                async for item in self._thread_items(spec, bound, ctx):
                    yield item
        finally:
            ctx._cancel()  # stops a producer thread that is still running (client gone, error)

    async def _async_items(
        self, spec: ToolSpec, bound: inspect.BoundArguments, ctx: ToolContext
    ) -> AsyncIterator[Encoded]:
        agen = spec.fn(*bound.args, **bound.kwargs)
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
                self._slots.release()

    async def _thread_items(
        self, spec: ToolSpec, bound: inspect.BoundArguments, ctx: ToolContext
    ) -> AsyncIterator[Encoded]:
        # The generator lives entirely on one pool thread (a generator must not be resumed from two
        # threads). It may run at most DEFAULTS.stream_buffer items ahead of the gRPC stream, so a
        # slow client slows the tool down instead of filling memory.
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        space = threading.Semaphore(DEFAULTS.stream_buffer)
        loop = self._loop

        def post(message: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:
                pass  # loop closed: the worker is exiting

        def produce() -> None:
            gen = spec.fn(*bound.args, **bound.kwargs)
            try:
                for item in gen:
                    encoded = encode_value(item)
                    # Wait for room; bounded by the call's lifetime, which always ends in
                    # ctx._cancel() (normal end, error, client gone, deadline or shutdown).
                    while not space.acquire(timeout=0.05):
                        if ctx.cancel_event.is_set():
                            return
                    if ctx.cancel_event.is_set():
                        return
                    post(("item", encoded))
                post(("end", None))
            except BaseException as exc:  # noqa: BLE001 - delivered to the RPC as its status
                post(("error", exc))
            finally:
                gen.close()

        cf = self.executor.submit(produce)
        cf.add_done_callback(self._release_from_thread)
        while True:
            kind, value = await self._with_deadline(queue.get(), ctx)
            if kind == "item":
                space.release()
                yield value
            elif kind == "end":
                return
            else:
                raise value


class _Raised:
    """An exception crossing from a pool thread as a value: asyncio.wrap_future would replace a
    TimeoutError or CancelledError with a fresh asyncio exception and lose the tool's traceback."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _call_sync(spec: ToolSpec, bound: inspect.BoundArguments) -> Encoded | _Raised:
    # Encoding runs on the pool thread too, so a large JSON result never stalls the event loop.
    try:
        return encode_value(spec.fn(*bound.args, **bound.kwargs))
    except BaseException as exc:  # noqa: BLE001 - re-raised on the event loop
        return _Raised(exc)
