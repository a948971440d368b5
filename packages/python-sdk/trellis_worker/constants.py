"""Protocol constants and the worker's defaults (one frozen place)."""

from __future__ import annotations

PROTOCOL = "trellis.bridge.v1"
SDK_VERSION = "0.1.0"

#: Trailing-metadata key carrying a serialized ``ErrorDetail`` on every failed call.
ERROR_METADATA_KEY = "trellis-error-bin"

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"

#: The first (and only) line the worker writes on stdout, followed by a JSON object.
READY_PREFIX = "TRELLIS_READY"


class Defaults:
    """Read-only (no instance attributes can be set). A plain class, not a frozen dataclass:
    building a dataclass costs about a millisecond of every worker's start."""

    __slots__ = ()
    concurrency: int = 4
    max_message_bytes: int = 16 * 1024 * 1024
    grace_ms: int = 5000
    #: Budget for a shutdown caused by the host's death (stdin EOF, parent-death signal): nobody
    #: waits for results any more, so in-flight calls are cancelled rather than drained.
    orphan_exit_ms: int = 300
    #: Items a sync generator tool may run ahead of the gRPC stream before it blocks.
    stream_buffer: int = 8
    #: Keeps an ErrorDetail (plus the status message) well inside gRPC's default 8 KiB metadata
    #: limit, so a huge traceback can never turn a tool error into a transport error.
    max_error_message_chars: int = 1000
    max_traceback_chars: int = 4000
    max_listed_tools: int = 100
    #: Log records buffered for the host before the oldest are dropped (and counted).
    log_buffer: int = 1000
    log_batch: int = 200
    log_flush_interval_s: float = 0.1
    log_rpc_timeout_s: float = 2.0


DEFAULTS = Defaults()
