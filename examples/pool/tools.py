"""Example tools for `pnpm example:pool` (examples/pool/main.ts calls them from TypeScript).

Each function marked with @tool becomes a tool: its type hints become the JSON Schema the worker
checks arguments against, and its docstring becomes the description the host sees in pool.tools().
"""

from __future__ import annotations

import re

from trellis_worker import ToolContext, tool


@tool(idempotent=True)
def count_primes(limit: int) -> int:
    """Count the primes below `limit` (CPU-bound, pure Python).

    Args:
        limit: Upper bound, exclusive.
    """
    found = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


@tool
def fibonacci(count: int, ctx: ToolContext):
    """Stream the first `count` Fibonacci numbers, one item each.

    Args:
        count: How many numbers to yield.
    """
    a, b = 0, 1
    for _ in range(count):
        if ctx.cancelled:  # the host cancelled the stream (or its deadline passed)
            return
        yield a
        a, b = b, a + b


@tool
def invert(data: bytes) -> bytes:
    """Invert every byte (255 - b), like the negative of a grayscale image.

    Args:
        data: Raw bytes: the host sends a Buffer as application/octet-stream, untouched.
    """
    return bytes(255 - b for b in data)


_TEMPERATURE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([CF])\s*$")


@tool
def to_celsius(reading: str) -> float:
    """Convert a reading such as "71.6F" or "22C" to degrees Celsius.

    Args:
        reading: A number followed by C or F.
    """
    m = _TEMPERATURE.match(reading)
    if m is None:
        raise ValueError(f"not a temperature reading: {reading!r} (expected e.g. '22C' or '71.6F')")
    value, unit = float(m.group(1)), m.group(2)
    return round(value if unit == "C" else (value - 32) * 5 / 9, 2)
