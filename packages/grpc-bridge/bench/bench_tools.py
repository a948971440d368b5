"""Tools of the bridge benchmarks: the same echo as the bare server's Execute, as a Trellis tool."""

from __future__ import annotations

from typing import Any

from trellis_worker import ToolContext, tool


@tool
async def echo(value: Any = None) -> Any:
    """Return the argument unchanged (async: runs on the worker's event loop, no thread hop)."""
    return value


@tool
def echo_sync(value: Any = None) -> Any:
    """Return the argument unchanged (sync: runs on the worker's thread pool)."""
    return value


@tool(zero_copy=True)
def byte_count(data: memoryview) -> int:
    """How many bytes arrived (reads none of them: a large argument is a view of shared memory)."""
    return data.nbytes


_FILL: dict[int, bytes] = {}


@tool(zero_copy=True)
def make_bytes(ctx: ToolContext, n: int) -> memoryview:
    """n bytes built in ctx.shared_buffer (one memcpy of a cached pattern), returned without a copy."""
    pattern = _FILL.get(n)
    if pattern is None:
        pattern = _FILL[n] = bytes(range(256)) * (n // 256) + bytes(n % 256)
    out = ctx.shared_buffer(n)
    out[:] = pattern
    return out
