"""Keeping a tool's own subprocesses from outliving the worker (Linux).

A tool may start subprocesses, and some escape their parent: a child started in a new session
(``setsid``, ``start_new_session=True``) is out of the worker's process group, so the host's
SIGKILL to the group misses it; a double-forked daemon is re-parented to init when its middle
process exits. After a kill -9 of the host such processes used to live on until the next start
swept them. Three means, from strongest to weakest:

  - **a cgroup per worker** (cgroup v2, where the host can create one): the host names a directory
    in ``TRELLIS_WORKER_CGROUP`` and the worker moves itself into it before it imports any tool, so
    every descendant is in it whatever it does with sessions or parents. ``cgroup.kill`` ends them
    all at once; the host writes it when the worker exits, whatever killed the worker.
  - **child subreaper** (``prctl(PR_SET_CHILD_SUBREAPER)``): an orphaned descendant is re-parented
    to the worker instead of init, so the worker still finds it through
    ``/proc/<pid>/task/<tid>/children`` and kills it when it exits (host gone, SIGTERM).
  - **the process group** (always): the host's SIGKILL to the group reaches what did not change
    session.

Exited orphans become the worker's zombies until it exits (only their PID entry is held): reaping
them earlier could steal an exit status a tool's own ``Popen.wait()`` is waiting for.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CGROUP_ENV = "TRELLIS_WORKER_CGROUP"


def become_subreaper() -> bool:
    """Makes orphaned descendants this process's children. Linux >= 3.4 only; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def join_cgroup() -> str | None:
    """Moves this process into the cgroup the host named (before any tool code runs); the path, or
    None when there is none or it cannot be joined (the host then relies on the other means)."""
    path = os.environ.pop(CGROUP_ENV, None)
    if not path:
        return None
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    except OSError as exc:
        print(f"trellis_worker: could not join cgroup {path}: {exc}", file=sys.stderr)
        return None
    return path


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def descendants(root: int | None = None) -> list[int]:
    """Every live descendant of ``root`` (this process by default), parents before children."""
    root = os.getpid() if root is None else root
    seen: list[int] = []
    todo = _children(root)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


def _cgroup_members(cgroup: str | None) -> list[int]:
    if cgroup is None:
        return []
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "rb") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def kill_descendants(budget_s: float, cgroup: str | None = None) -> int:
    """SIGKILLs every descendant (and every other member of the worker's cgroup), reaps them, and
    repeats until none is left or ``budget_s`` passes: a descendant may fork while we look, and a
    killed parent's children are re-parented to us (subreaper) only once it is gone. Returns the
    number of processes killed."""
    me = os.getpid()
    killed: set[int] = set()
    deadline = time.monotonic() + budget_s
    while True:
        targets = [p for p in descendants(me) + _cgroup_members(cgroup) if p != me]
        live = [p for p in targets if _alive(p)]
        for pid in live:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        _reap()
        if not live or time.monotonic() >= deadline:
            return len(killed)
        time.sleep(0.002)


def _alive(pid: int) -> bool:
    """False for a zombie (dead, waiting to be reaped) or a process that is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"x")


def _reap() -> None:
    """Reaps every exited child (the worker is about to exit: no tool waits for them any more)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return
