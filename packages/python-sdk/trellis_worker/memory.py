"""The worker's hard memory cap (``--max-rss-mb``): the kernel refuses it memory past its limit.

Why: the host reads a worker's RSS every 100 ms and kills it past ``maxRssMb``, but a tool can
allocate hundreds of MiB between two readings (one measured leak reached 5x the limit when RSS was
read every 2 s). So once the tools are imported the worker caps its own data segment with
``RLIMIT_DATA`` (Linux >= 4.7 counts every private writable mapping, malloc's mmaps included):

    cap = VmData now + (limit - VmRSS now) + a stack's worth per tool thread not started yet

Resident memory can only grow by touching such mappings (or by mapping files, which tools rarely
do), so RSS stays within about the limit. The stacks of tool threads started later (8 MiB each)
count in VmData but are barely resident; they are added so that they do not eat the tools' budget
(a deep recursion that touches a whole stack could overshoot by that much: never seen).
``RLIMIT_AS`` would not do: gRPC and glibc reserve far more address space than they use.

An allocation refused by the cap raises MemoryError. The process is not trusted after that (any
thread, gRPC's included, may have seen a failed allocation), so the worker reports it on stderr and
exits at once with EXIT_MEMORY; the host fails the calls it was running with
ERR_WORKER_MEMORY_LIMIT and starts a replacement.
"""

from __future__ import annotations

import os
import sys

#: Exit code of a worker that hit its memory cap (the host maps it to ERR_WORKER_MEMORY_LIMIT).
EXIT_MEMORY = 5
#: Default thread stack size on Linux (ulimit -s 8192): each tool thread reserves one when started.
_THREAD_STACK = 8 * 1024 * 1024

_armed_mb: int | None = None
#: Set by ``--max-rss-mb`` (armed or not): the host then polls this worker's RSS, which counts the
#: pages of the shared-memory segments it maps, so shm.py parks no released result for reuse.
rss_limited = False


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="latin-1") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def arm_memory_cap(limit_mb: int, threads_to_come: int) -> int | None:
    """Caps this process's data segment so its RSS stays within ``limit_mb``; returns the cap in
    bytes, or None when it cannot be set (not Linux, or the limit is below what is used already;
    the host's RSS poll then is the only guard)."""
    global _armed_mb, rss_limited
    rss_limited = True
    if not sys.platform.startswith("linux"):
        return None
    import resource

    data_kb = _status_kb("VmData:")
    rss_kb = _status_kb("VmRSS:")
    if data_kb is None or rss_kb is None:
        return None
    headroom = limit_mb * 1024 * 1024 - rss_kb * 1024
    if headroom <= 0:
        print(
            f"trellis_worker: --max-rss-mb {limit_mb} is below what the worker uses after importing its "
            f"tools ({rss_kb // 1024} MiB resident); no memory cap set",
            file=sys.stderr,
        )
        return None
    cap = data_kb * 1024 + headroom + threads_to_come * _THREAD_STACK
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY and cap > hard:
        cap = hard
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    except (ValueError, OSError):
        return None
    _armed_mb = limit_mb
    return cap


def on_memory_error(exc: BaseException) -> None:
    """Ends the worker at once when ``exc`` is a MemoryError under the cap (see the module doc)."""
    if _armed_mb is None or not isinstance(exc, MemoryError):
        return
    try:
        os.write(
            2,
            f"trellis_worker: memory cap reached (--max-rss-mb {_armed_mb}): a tool's allocation was "
            "refused; exiting so the host replaces this worker\n".encode(),
        )
    finally:
        os._exit(EXIT_MEMORY)
