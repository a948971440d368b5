"""Tools used by the Python SDK's tests and by the TypeScript @trellis/grpc-bridge tests.

Start a worker serving them with either form:
    python -m trellis_worker --tools packages/python-sdk/tests/tools_fixture.py ...
    PYTHONPATH=packages/python-sdk/tests python -m trellis_worker --tools tools_fixture ...

Tools (JSON arguments unless noted; "->" is the result):
  echo(value: any = null) -> value                   returns its argument unchanged
  add(a: int, b: int) -> int                         a + b
  count_primes(n: int) -> int                        primes below n; CPU-bound, pure Python
  count(n: int, delay_ms: int = 0, fail_at: int = 0) streams 1..n (sync generator), sleeping delay_ms
                                                     before each item; raises ValueError before item
                                                     fail_at when fail_at > 0; records
                                                     "closed:<i>" under `token` when stopped early
  acount(n: int, delay_ms: int = 0)                  streams 1..n (async generator)
  reverse_bytes(data: bytes) -> bytes                raw bytes in (application/octet-stream) and out
  labelled_bytes(text: str) -> Payload               text as UTF-8 bytes labelled "text/plain"
  big_result(size: int) -> bytes                     `size` zero bytes (message-limit tests)
  checked_sqrt(x: float) -> float                    raises ValueError("x must be >= 0") when x < 0
  fail(kind: str)                                    raises what `kind` names (see FAILURES): status
                                                     mapping tests; "system_exit" must not kill the worker
  sleep(seconds: float) -> "slept"                   blocks a pool thread for `seconds` (drain tests)
  hang(token: str, seconds: float = 30)              sync; polls ctx.cancelled; records "cancelled" or
                                                     "finished" under `token`
  ahang(token: str, seconds: float = 30)             async; records "cancelled" when its task is cancelled
  structured(n: int) -> int                          async; a TaskGroup of n children under an
                                                     asyncio.timeout (needs a current task) -> 0+1+..+n-1
  swap_var(value: str) -> str | null                 async; sets a ContextVar, returns what it held
                                                     before (null: calls do not share a context)
  reset_across_await() -> "ok"                       async; sets a ContextVar, awaits, resets it with
                                                     its token (fails if resumed in another Context)
  observed(token: str) -> str | null                 what hang/ahang/count recorded under `token`
  session_counter() -> int                           increments ctx.session["count"]: 1, 2, ... per session
  context_info() -> object                           call_id, session_id, metadata, idempotent,
                                                     content_type, time_remaining (seconds or null), pid
  summarize(items: list[Item], mode: "sum"|"max" = "sum", scale: Scale | null = null,
            tags: dict[str, int] = {}) -> object      nested validation (Item is a TypedDict, Scale a
                                                     dataclass): field paths like items[2].name
  log_message(message: str, level: str = "INFO")     logs through ctx.log (forwarded to the host)
  call_host(tool: str, args: object = {}) -> any     calls a host tool through ctx.call_host_tool
  call_host_sync(tool: str, args: object = {}) -> any  the same from a sync tool (call_host_tool_sync)
  noisy(text: str) -> "ok"                           print()s text: it must land on stderr, never stdout
  allocate(mb: int, hold: bool = true) -> int        allocates mb MiB (kept while hold); returns RSS bytes
  release_memory() -> int                            drops what allocate held; returns how many MiB
  descriptors(scratch: str) -> object                where each descriptor >= 3 points, in the worker and
                                                     in a Popen(close_fds=False), an os.system and a
                                                     setsid child (scratch: a directory for output)
  crash(mode: "exit"|"segv"|"abort" = "exit", code: int = 3)
                                                     ends the worker process abruptly (crash tests):
                                                     os._exit(code), SIGSEGV (exit -11) or SIGABRT (-6)
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Literal, TypedDict

from trellis_worker import Cancelled, Payload, ToolContext, tool
from trellis_worker.lifecycle import rss_bytes

_observed: dict[str, str] = {}
_observed_lock = threading.Lock()
_held: list[bytearray] = []


def _record(token: str, value: str) -> None:
    if token:
        with _observed_lock:
            _observed[token] = value


@tool
def echo(value: Any = None) -> Any:
    """Return the argument unchanged.

    Args:
        value: Any JSON value.
    """
    return value


@tool(idempotent=True)
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first addend.
        b: The second addend.
    """
    return a + b


@tool
def count_primes(n: int) -> int:
    """Count the primes below n (CPU-bound, pure Python).

    Args:
        n: Upper bound (exclusive).
    """
    found = 0
    for candidate in range(2, n):
        d = 2
        while d * d <= candidate:
            if candidate % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


@tool
def count(n: int, delay_ms: int = 0, fail_at: int = 0, token: str = ""):
    """Stream the integers 1..n.

    Args:
        n: How many items to yield.
        delay_ms: Pause before each item, in milliseconds.
        fail_at: When > 0, raise ValueError instead of yielding this item.
        token: Records "closed:<last item>" under this token if the stream is stopped early.
    """
    i = 0
    try:
        for i in range(1, n + 1):
            if delay_ms:
                time.sleep(delay_ms / 1000)
            if i == fail_at:
                raise ValueError(f"failing at item {i} as asked")
            yield i
    except GeneratorExit:
        _record(token, f"closed:{i}")
        raise


@tool
async def acount(n: int, delay_ms: int = 0):
    """Stream the integers 1..n from an async generator.

    Args:
        n: How many items to yield.
        delay_ms: Pause before each item, in milliseconds.
    """
    for i in range(1, n + 1):
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        yield i


@tool
def reverse_bytes(data: bytes) -> bytes:
    """Return the bytes in reverse order.

    Args:
        data: Raw bytes (send them as application/octet-stream).
    """
    return data[::-1]


@tool
def labelled_bytes(text: str) -> Payload:
    """Return text as UTF-8 bytes labelled text/plain."""
    return Payload(text.encode("utf-8"), "text/plain")


@tool
def big_result(size: int) -> bytes:
    """Return `size` zero bytes."""
    return bytes(size)


@tool
def checked_sqrt(x: float) -> float:
    """Square root that refuses negative input.

    Args:
        x: A number >= 0.
    """
    if x < 0:
        raise ValueError("x must be >= 0")
    return x**0.5


FAILURES = {
    "not_implemented": lambda: NotImplementedError("not written yet"),
    "permission": lambda: PermissionError("not allowed"),
    "timeout": lambda: TimeoutError("took too long"),
    "cancelled": lambda: Cancelled("gave up"),
    "memory": lambda: MemoryError("out of memory"),
    "runtime": lambda: RuntimeError("boom"),
    "type": lambda: TypeError("a TypeError raised inside the tool"),
    "system_exit": lambda: SystemExit(7),
    "huge": lambda: RuntimeError("x" * 200_000),
}


@tool
def fail(kind: str) -> None:
    """Raise the exception named by kind (one of FAILURES)."""
    if kind == "deep":  # a long traceback Python cannot abbreviate (no repeated lines)

        def ping(n: int) -> None:
            if n == 0:
                raise RuntimeError("deep failure")
            pong(n - 1)

        def pong(n: int) -> None:
            ping(n)

        ping(300)
    raise FAILURES[kind]()


@tool
def sleep(seconds: float) -> str:
    """Block for `seconds` (a sync tool occupying one pool thread)."""
    time.sleep(seconds)
    return "slept"


@tool
def hang(token: str, ctx: ToolContext, seconds: float = 30.0) -> str:
    """Wait until cancelled (polling ctx.cancelled) or until `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.cancelled:
            _record(token, "cancelled")
            return "cancelled"
        time.sleep(0.01)
    _record(token, "finished")
    return "finished"


@tool
async def ahang(token: str, seconds: float = 30.0) -> str:
    """Sleep on the event loop until cancelled or until `seconds` pass."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _record(token, "cancelled")
        raise
    _record(token, "finished")
    return "finished"


@tool
async def structured(n: int) -> int:
    """Children in a TaskGroup under a timeout, both entered before the first await."""
    async with asyncio.timeout(30), asyncio.TaskGroup() as group:  # type: ignore[attr-defined,unused-ignore]
        tasks = [group.create_task(asyncio.sleep(0, result=i)) for i in range(n)]
    return sum(t.result() for t in tasks)


_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fixture_var", default=None)


@tool
async def swap_var(value: str) -> str | None:
    """Sets a ContextVar; returns what it held before this call set it."""
    before = _var.get()
    _var.set(value)
    return before


@tool
async def reset_across_await() -> str:
    """Set a ContextVar, suspend, then reset it with its token (as OpenTelemetry's attach/detach)."""
    token = _var.set("set")
    await asyncio.sleep(0)
    _var.reset(token)  # ValueError when the call resumed in a copy of the Context that made token
    return "ok"


@tool
def observed(token: str) -> str | None:
    """What hang/ahang/count recorded under token, or null."""
    with _observed_lock:
        return _observed.get(token)


@tool
def session_counter(ctx: ToolContext) -> int:
    """Count calls made in this session."""
    ctx.session["count"] = ctx.session.get("count", 0) + 1
    return ctx.session["count"]


@tool
def context_info(ctx: ToolContext) -> dict[str, Any]:
    """Report what the tool's context holds."""
    return {
        "call_id": ctx.call_id,
        "session_id": ctx.session_id,
        "metadata": ctx.metadata,
        "idempotent": ctx.idempotent,
        "content_type": ctx.content_type,
        "time_remaining": ctx.time_remaining(),
        "pid": os.getpid(),
    }


class Item(TypedDict):
    name: str
    qty: int


@dataclasses.dataclass
class Scale:
    """Multiplier applied to the result."""

    factor: float
    label: str = "x"


@tool
def summarize(
    items: list[Item],
    mode: Literal["sum", "max"] = "sum",
    scale: Scale | None = None,
    tags: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Summarize item quantities.

    Args:
        items: The items to summarize.
        mode: How to combine the quantities.
        scale: Optional multiplier.
        tags: Free-form integer tags, echoed back.
    """
    qty = [i["qty"] for i in items]
    total = (sum(qty) if mode == "sum" else max(qty, default=0)) * (scale.factor if scale else 1)
    return {"total": total, "names": [i["name"] for i in items], "scale": scale, "tags": tags or {}}


@tool
def log_message(message: str, ctx: ToolContext, level: str = "INFO") -> str:
    """Log message through ctx.log at the given level."""
    ctx.log.log(logging.getLevelName(level), "%s", message)
    return "logged"


@tool
async def call_host(tool: str, ctx: ToolContext, args: dict[str, Any] | None = None) -> Any:
    """Call a host tool and return its result."""
    return await ctx.call_host_tool(tool, args or {})


@tool
def call_host_sync(tool: str, ctx: ToolContext, args: dict[str, Any] | None = None) -> Any:
    """Call a host tool from a sync tool (on a pool thread) and return its result."""
    return ctx.call_host_tool_sync(tool, args or {})


@tool
def noisy(text: str) -> str:
    """print() text (it must reach stderr, not stdout)."""
    print(text)
    sys.stdout.flush()
    os.write(1, f"{text} (fd 1)\n".encode())
    return "ok"


@tool
def allocate(mb: int, hold: bool = True) -> int:
    """Allocate mb MiB (kept until release_memory when hold); return the RSS in bytes."""
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page so it is resident
        block[i] = 1
    if hold:
        _held.append(block)
    return rss_bytes()


@tool
def release_memory() -> int:
    """Drop what allocate held; return how many MiB that was."""
    mb = sum(len(b) for b in _held) // (1024 * 1024)
    _held.clear()
    return mb


@tool
def crash(mode: Literal["exit", "segv", "abort"] = "exit", code: int = 3) -> None:
    """End the worker process abruptly."""
    sys.stderr.flush()
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "abort":
        os.abort()
    os._exit(code)


@tool(zero_copy=True)
def shm_where(data: memoryview) -> dict[str, Any]:
    """Where the bytes of `data` live: the base buffer address of a NumPy array over them and the
    /dev/shm mapping of this process it falls in (None: ordinary memory), to prove 0 copies."""
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    address = arr.__array_interface__["data"][0]
    segment = None
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/dev/shm/trellis-shm."):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if lo <= address < hi:
                    segment = parts[5]
    return {
        "nbytes": data.nbytes,
        "segment": segment,
        "first": int(arr[0]) if arr.size else None,
        "last": int(arr[-1]) if arr.size else None,
    }


@tool(zero_copy=True)
def shm_fill(ctx: ToolContext, n: int, value: int) -> memoryview:
    """n bytes of `value`, built in ctx.shared_buffer through a NumPy view (sent back uncopied)."""
    import numpy as np

    buf = ctx.shared_buffer(n)
    np.frombuffer(buf, dtype=np.uint8)[:] = value
    return buf


@tool(zero_copy=True)
def shm_hold(data: memoryview, ctx: ToolContext, seconds: float = 30.0) -> int:
    """Maps `data`, allocates a shared buffer as large, then waits (cancellable): a call that holds
    segments on both sides, for kill -9 tests."""
    ctx.shared_buffer(data.nbytes)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ctx.cancelled:
        time.sleep(0.01)
    return data.nbytes


# Prints, as one JSON list, what each descriptor >= 3 of the running process points at.
_LIST_FDS = (
    "import json, os\n"
    "out = []\n"
    "for n in sorted(int(x) for x in os.listdir('/proc/self/fd')):\n"
    "    try:\n"
    "        out.append(os.readlink(f'/proc/self/fd/{n}')) if n >= 3 else None\n"
    "    except OSError:\n"
    "        pass\n"
    "print(json.dumps(out))\n"
)


@tool
def descriptors(scratch: str) -> dict[str, list[str]]:
    """What the worker and the processes a tool starts hold open (each descriptor >= 3, as its
    /proc link): the worker itself, a `subprocess.Popen(..., close_fds=False)` child, an
    `os.system` child (through sh), and a child that escaped into a session of its own (setsid).
    `scratch` is a directory for the os.system child's output."""
    worker = []
    for n in sorted(int(x) for x in os.listdir("/proc/self/fd")):
        if n >= 3:
            try:
                worker.append(os.readlink(f"/proc/self/fd/{n}"))
            except OSError:
                pass
    popen = subprocess.Popen([sys.executable, "-c", _LIST_FDS], stdout=subprocess.PIPE, close_fds=False)
    popen_out, _ = popen.communicate(timeout=30)
    out_file = os.path.join(scratch, f"system-{os.getpid()}-{time.monotonic_ns()}.json")
    code = os.system(f"{shlex.quote(sys.executable)} -c {shlex.quote(_LIST_FDS)} > {shlex.quote(out_file)}")
    if code != 0:
        raise RuntimeError(f"os.system child exited {code}")
    with open(out_file) as f:
        system = json.load(f)
    os.unlink(out_file)
    escaped = subprocess.run(
        ["setsid", sys.executable, "-c", _LIST_FDS], capture_output=True, check=True, close_fds=False, timeout=30
    )
    return {
        "worker": worker,
        "popen": json.loads(popen_out),
        "system": system,
        "escaped": json.loads(escaped.stdout),
    }
