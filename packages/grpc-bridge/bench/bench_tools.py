"""Tools of the bridge benchmarks: the same echo as the bare server's Execute, as a Trellis tool."""

from __future__ import annotations

from typing import Any

from trellis_worker import tool


@tool
async def echo(value: Any = None) -> Any:
    """Return the argument unchanged (async: runs on the worker's event loop, no thread hop)."""
    return value


@tool
def echo_sync(value: Any = None) -> Any:
    """Return the argument unchanged (sync: runs on the worker's thread pool)."""
    return value
