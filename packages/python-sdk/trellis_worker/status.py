"""Exception -> gRPC status code, and the ``@grpc_errors`` decorator that applies it.

Every servicer method of the worker is wrapped in ``@grpc_errors``: whatever a tool (or the
worker's own argument handling) raises ends the RPC with the mapped status code, a status message
"<ErrorType>: <message>", and a serialized ``ErrorDetail`` in the trailing metadata key
``trellis-error-bin``. The exception never escapes into gRPC or the event loop, so a failing tool
cannot take the worker down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

import grpc

from ._stubs import common_pb2
from .constants import DEFAULTS, ERROR_METADATA_KEY
from .errors import (
    Cancelled,
    DeadlineExceededError,
    HostToolError,
    PayloadTooLargeError,
    SharedMemoryFullError,
    StreamingMismatchError,
    UnknownToolError,
    ValidationError,
)
from .memory import on_memory_error

# Checked in order; the first matching class wins (subclasses before their bases).
STATUS_BY_EXCEPTION: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (ValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (UnknownToolError, grpc.StatusCode.NOT_FOUND),
    (StreamingMismatchError, grpc.StatusCode.FAILED_PRECONDITION),
    (PayloadTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (SharedMemoryFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (MemoryError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (asyncio.CancelledError, grpc.StatusCode.CANCELLED),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),
    (PermissionError, grpc.StatusCode.PERMISSION_DENIED),
)


def status_for(exc: BaseException) -> grpc.StatusCode:
    for cls, code in STATUS_BY_EXCEPTION:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def _clip_head(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} characters cut)"


def _clip_tail(text: str, limit: int) -> str:
    # The end of a traceback (innermost frames and the exception line) is the part worth keeping.
    return text if len(text) <= limit else f"({len(text) - limit} characters cut) ...{text[-limit:]}"


_INTERNAL_DIRS = tuple(
    os.path.dirname(str(m.__file__)) + os.sep for m in (sys.modules["trellis_worker"], asyncio, concurrent.futures)
)


def _skip_internal_frames(tb: TracebackType | None) -> TracebackType | None:
    """Drops the leading frames of the SDK, asyncio and concurrent.futures, so a traceback starts at
    the tool's own code (all frames are kept if none of them is the user's)."""
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        tb = tb.tb_next
    return tb if tb is not None else first


def error_detail(exc: BaseException, tool: str) -> common_pb2.ErrorDetail:
    """The ErrorDetail sent for ``exc``, clipped so it always fits in gRPC metadata. Every failed
    call passes here (gRPC or lane): under the memory cap a MemoryError ends the worker instead
    (memory.py)."""
    on_memory_error(exc)
    detail = common_pb2.ErrorDetail(
        error_type=type(exc).__name__,
        message=_clip_head(str(exc), DEFAULTS.max_error_message_chars),
        tool=tool,
    )
    # Argument and lookup errors happen before the tool runs: their traceback is SDK internals.
    if not isinstance(exc, (ValidationError, UnknownToolError, StreamingMismatchError)):
        tb = "".join(traceback.format_exception(type(exc), exc, _skip_internal_frames(exc.__traceback__)))
        if isinstance(exc, HostToolError) and exc.remote_traceback:
            # Kept at the end, which is the part the clipping keeps: the host's own stack.
            tb += f"\nThe host tool's stack:\n{exc.remote_traceback}"
        detail.traceback = _clip_tail(tb, DEFAULTS.max_traceback_chars)
    if isinstance(exc, ValidationError):
        detail.field_path = exc.field_path
    if isinstance(exc, UnknownToolError):
        detail.available_tools.extend(exc.available[: DEFAULTS.max_listed_tools])
    return detail


def decode_error_detail(metadata: Any) -> common_pb2.ErrorDetail | None:
    """The ErrorDetail in a call's trailing metadata (a sequence of (key, value) pairs), if any."""
    for key, value in metadata or ():
        if key == ERROR_METADATA_KEY:
            return common_pb2.ErrorDetail.FromString(value)
    return None


def _is_external_cancel(exc: BaseException) -> bool:
    """True when a CancelledError means gRPC cancelled this handler (client gone, deadline, drain),
    as opposed to a tool raising CancelledError itself."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
    return True if cancelling is None else cancelling() > 0


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException, tool: str) -> None:
    detail = error_detail(exc, tool)
    await context.abort(
        status_for(exc),
        f"{detail.error_type}: {detail.message}",
        trailing_metadata=((ERROR_METADATA_KEY, detail.SerializeToString()),),
    )


def grpc_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps an async servicer method (unary or server-streaming) so that every exception becomes
    a gRPC status with ErrorDetail. ``request.tool`` (when present) is reported as the tool."""

    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in method(self, request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except BaseException as exc:  # noqa: BLE001 - every tool failure becomes a status
                if _is_external_cancel(exc) or isinstance(exc, GeneratorExit):
                    raise
                await abort_with(context, exc, getattr(request, "tool", ""))

        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except BaseException as exc:  # noqa: BLE001 - every tool failure becomes a status
            if _is_external_cancel(exc):
                raise
            await abort_with(context, exc, getattr(request, "tool", ""))

    return unary_wrapper
