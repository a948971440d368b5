"""Exceptions of the Python SDK. Each maps to one gRPC status code (see status.py)."""

from __future__ import annotations

from collections.abc import Sequence


class TrellisWorkerError(Exception):
    """Base class of the errors this SDK raises."""


class ToolDefinitionError(TrellisWorkerError, TypeError):
    """A function decorated with @tool cannot be served (raised at import time, not per call)."""


class ValidationError(TrellisWorkerError, ValueError):
    """Call arguments do not match the tool's parameters. -> INVALID_ARGUMENT

    ``field_path`` names the offending value, e.g. ``items[2].name`` ("" for the whole arguments).
    """

    def __init__(self, field_path: str, problem: str) -> None:
        self.field_path = field_path
        self.problem = problem
        super().__init__(f"{field_path}: {problem}" if field_path else problem)


class UnknownToolError(TrellisWorkerError, LookupError):
    """No tool with the requested name. -> NOT_FOUND"""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.name = name
        self.available = sorted(available)
        listed = ", ".join(self.available) if self.available else "(none)"
        super().__init__(f"no tool named {name!r}; this worker serves: {listed}")


class StreamingMismatchError(TrellisWorkerError):
    """Execute (unary) called on a generator tool. -> FAILED_PRECONDITION"""


class PayloadTooLargeError(TrellisWorkerError):
    """A result or stream item exceeds the message size limit. -> RESOURCE_EXHAUSTED"""


class ResultEncodingError(TrellisWorkerError, TypeError):
    """A tool returned a value that is neither JSON-compatible, bytes nor a Payload. -> INTERNAL"""


class DeadlineExceededError(TrellisWorkerError, TimeoutError):
    """The call's deadline passed before the tool finished. -> DEADLINE_EXCEEDED"""


class Cancelled(TrellisWorkerError):
    """The call was cancelled; tools may raise it themselves (ctx.raise_if_cancelled()). -> CANCELLED"""


class HostToolError(TrellisWorkerError):
    """A host tool called through ToolContext.call_host_tool failed.

    ``code`` is the gRPC status code name (e.g. "NOT_FOUND"); ``error_type``, ``detail_message`` and
    ``remote_traceback`` come from the host's ErrorDetail when it sent one.
    """

    def __init__(self, code: str, message: str, error_type: str = "", remote_traceback: str = "") -> None:
        self.code = code
        self.detail_message = message
        self.error_type = error_type
        self.remote_traceback = remote_traceback
        kind = f"{error_type}: " if error_type else ""
        super().__init__(f"host tool failed with {code}: {kind}{message}")


class SharedMemoryFullError(TrellisWorkerError):
    """No room for a shared-memory segment: /dev/shm is full, or a memory limit is reached.
    -> RESOURCE_EXHAUSTED"""
