"""Closes the descriptors the worker inherited by accident, before any tool (or its subprocess) runs.

The host gives the worker stdin, stdout and stderr, nothing else. Any other descriptor open across
the exec was inherited by accident: above all the host's LMDB data files (registry.mdb, health.mdb,
leases.mdb), which LMDB opens without O_CLOEXEC. The host marks them close-on-exec itself through
a small native addon (@trellis/home, src/close-on-exec.ts); where that addon is missing (a build
without a C compiler), they reach the worker, and every subprocess of a tool would inherit them in
turn (``subprocess.Popen(..., close_fds=False)``, ``os.system``, a double fork that escapes with
setsid): a tool could write into the registry through /proc/self/fd/N, and a deleted or moved-aside
registry file would stay allocated on disk while any of them lives. So this runs first in ``main``.

Which descriptors: the *inheritable* ones >= 3. Python creates every descriptor of its own
non-inheritable (PEP 446), and a descriptor that crossed the exec is inheritable by definition
(close-on-exec ones were closed by it), so this closes exactly what came from the parent and never
one the interpreter or an imported C extension opened.
"""

from __future__ import annotations

import os
import resource

#: Where Linux lists this process's descriptors; elsewhere every number up to the limit is tried.
_FD_DIR = "/proc/self/fd"
#: Bound of that fallback scan (the soft RLIMIT_NOFILE can be a million).
_SCAN_LIMIT = 65536


def _open_descriptors() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(_FD_DIR))
    except OSError:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = soft if soft != resource.RLIM_INFINITY else _SCAN_LIMIT
        return list(range(min(limit, _SCAN_LIMIT)))


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"{_FD_DIR}/{fd}")
    except OSError:
        return "?"


def close_inherited_fds() -> list[tuple[int, str]]:
    """Closes every inheritable descriptor >= 3; returns what was closed (number, what it was)."""
    closed: list[tuple[int, str]] = []
    for fd in _open_descriptors():
        if fd < 3:
            continue
        try:
            if not os.get_inheritable(fd):
                continue
        except OSError:
            continue  # not open (the listing's own descriptor, or a number of the fallback scan)
        what = _describe(fd)
        try:
            os.close(fd)
        except OSError:
            continue
        closed.append((fd, what))
    return closed
