"""trellis_worker: the Python side of Trellis's gRPC bridge.

Write tools with ``@tool``; serve them with ``python -m trellis_worker --tools my_module``.
See docs/python-tool-server.md in the Trellis repository.
"""

from .constants import ERROR_METADATA_KEY, PROTOCOL, SDK_VERSION
from .context import ToolContext
from .errors import (
    Cancelled,
    DeadlineExceededError,
    HostToolError,
    PayloadTooLargeError,
    ResultEncodingError,
    SharedMemoryFullError,
    StreamingMismatchError,
    ToolDefinitionError,
    TrellisWorkerError,
    UnknownToolError,
    ValidationError,
)
from .payload import Payload
from .tool import ToolSpec, collect_tools, tool

__version__ = SDK_VERSION

__all__ = [
    "ERROR_METADATA_KEY",
    "PROTOCOL",
    "Cancelled",
    "DeadlineExceededError",
    "HostToolError",
    "Payload",
    "PayloadTooLargeError",
    "ResultEncodingError",
    "SharedMemoryFullError",
    "StreamingMismatchError",
    "ToolContext",
    "ToolDefinitionError",
    "ToolSpec",
    "TrellisWorkerError",
    "UnknownToolError",
    "ValidationError",
    "__version__",
    "collect_tools",
    "tool",
]
