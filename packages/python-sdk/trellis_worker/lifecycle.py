"""How the worker notices that its host is gone, and reads its own resource use.

Two independent signals, so that a `kill -9` of the host ends the worker within a second:
  - stdin: the host holds the write end of the worker's stdin pipe; when the host dies the kernel
    closes it and a blocking read returns EOF;
  - the parent-death signal (Linux prctl PR_SET_PDEATHSIG): the kernel sends SIGTERM when the
    parent exits. getppid() is compared afterwards to close the race where the parent died before
    prctl ran (the signal is only armed for a parent that is still alive).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def arm_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Asks the kernel to send ``sig`` when the parent process exits. Linux only; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The process's own symbols (libc among them): ctypes.util.find_library would run
        # `ldconfig -p` in a subprocess, which costs more than the rest of the worker's start.
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_is_gone(expected_ppid: int) -> bool:
    """True when the worker has been re-parented (its parent died). ``expected_ppid`` is the
    parent seen at start-up (or the --host-pid given by the host). Never judged by ppid == 1: a
    host may itself be PID 1 in a container."""
    return os.getppid() != expected_ppid


def watch_stdin(on_eof: Callable[[], object]) -> threading.Thread:
    """Calls ``on_eof`` (from a daemon thread) when stdin reaches end of file or fails.

    Whatever the host writes to stdin is read and ignored; only the EOF matters."""

    def run() -> None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            on_eof()
            return
        while True:  # ends at EOF, which the host's exit guarantees
            try:
                chunk = os.read(fd, 65536)
            except InterruptedError:
                continue
            except OSError:
                break
            if not chunk:
                break
        on_eof()

    thread = threading.Thread(target=run, name="trellis-stdin-watch", daemon=True)
    thread.start()
    return thread


def rss_bytes() -> int:
    """Resident set size of this process right now (Linux /proc), or peak RSS elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
