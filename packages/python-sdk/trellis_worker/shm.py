"""Large payloads through shared memory on the call lane (Payload.shm in common.proto).

A payload of at least the host's threshold (1 MiB by default) does not travel through the lane's
socket: its sender writes it into a file in /dev/shm and sends the file's name; the receiver maps
the file. Arguments reach a tool as a read-only ``memoryview`` over the mapping (0 copies: a NumPy
array made with ``np.frombuffer`` shares its memory), and a tool that builds its result in
``ctx.shared_buffer(n)`` sends it back with 0 copies too; any other large result costs one copy into
a segment.

Segments are tracked like processes. Their names carry the run id and the owner
("trellis-shm.<run id>.w<pid>.<n>" for this worker's), so the host removes a dead worker's segments
and the registry's sweep removes those of a run whose host died. The receiver removes a segment once
it has the payload; a segment the worker allocated but did not send is removed when the call ends.

Results for a host that maps them (OpenLaneRequest.memfd_results) are memfds instead of files: the
host maps a result copy-on-write rather than reading it, and a mapping of a file that someone later
shrinks raises SIGBUS on the next access, which would kill the host. A file in /dev/shm cannot be
sealed (tmpfs files are created with F_SEAL_SEAL); a memfd made with MFD_ALLOW_SEALING can, so each
result is sealed with F_SEAL_SHRINK | F_SEAL_GROW before it is sent, and no process, this one
included, can change its size afterwards. The host opens it as /proc/<this pid>/fd/<fd> and sends
LANE_RELEASE when it has; the descriptor is held until then (or until the lane closes). A memfd has
no name: when this process dies its descriptors close, and nothing is left in /dev/shm.

A process that is not dumpable (``prctl(PR_SET_DUMPABLE, 0)``, as some security libraries do when
they load) refuses that open to a host without CAP_SYS_PTRACE, whatever the user. The host checks
once, when it opens the lane; a tool that loads such a library later makes the worker non-dumpable
behind its back. So each result asks the kernel again (``_dumpable``, one prctl): a non-dumpable
worker sends its results as files in /dev/shm, which the host opens by name, and a memfd it filled
before it became non-dumpable is copied into one.

Allocating is most of a large result's cost on the worker's side: the kernel must zero and map
every 4 KiB page of a fresh segment (about 60-70 ms for 100 MiB here, more than copying it). So a
memfd the host has released is **parked** (``_Parked``) and given to a later ``allocate`` of the
same size, zeroed again with one memset instead. The host maps results ``MAP_PRIVATE``: pages it
has not written still show the file's current content, so a parked memfd is reused only once
``/proc/<host pid>/maps`` no longer lists its inode (the host unmaps a result when its Buffer is
garbage-collected), and only when nothing in this process still holds a view of it (a tool that
kept its buffer). No protocol change is needed for that: the host's PID comes from the lane
socket (SO_PEERCRED), and a host whose maps cannot be read gets fresh memfds.

Pages are allocated with ``posix_fallocate`` before the segment is mapped: a full /dev/shm (or
a memory cgroup at its limit) then fails the call with SharedMemoryFullError, where ``ftruncate``
and a lazy mapping would let the tool's first write to a missing page kill the worker with SIGBUS.

Why files in /dev/shm and not ``multiprocessing.shared_memory``: that module registers every segment
with a resource-tracker process (one more process per worker) and unlinks on its own schedule;
naming and removal are exactly what has to be under the registry's control here.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import itertools
import mmap
import os
import sys
import threading
import time
from typing import Any

from . import memory
from ._proto.trellis.bridge.v1 import common_pb2
from .errors import PayloadTooLargeError, SharedMemoryFullError

SHM_DIR = "/dev/shm"
# A new segment's pages are allocated in one pass when it is mapped, not by one page fault per
# 4 KiB page as the tool first writes it (about a quarter less time for a 100 MiB result here).
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
_MEMFD = hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")
#: The prefix of a memfd segment's key (``memfd:<fd>.<n>``): it has no name in /dev/shm.
MEMFD_KEY = "memfd:"
_MEMFD_NAME = "trellis-result"
#: Released memfds of at least this size are parked for reuse (below it, allocating is cheap and
#: reading the host's maps would cost more than it saves).
REUSE_MIN_BYTES = 16 << 20
#: At most this many parked memfds, and none kept longer than PARK_SECONDS unused: each holds its
#: pages (shared memory, not reclaimable without swap).
PARK_MAX = 2
PARK_SECONDS = 30.0


class Segment(mmap.mmap):
    """A mapped segment that knows its file name (so a returned view of it is sent by name)."""

    segment_name: str
    #: The memfd's descriptor (held until the host releases it), or -1 for a file in /dev/shm.
    memfd: int


class ShmConfig:
    """What the host set for one lane (OpenLaneRequest): name prefix, threshold, limit, and whether
    results are sealed memfds the host maps (``memfd``)."""

    __slots__ = (
        "host_pid",
        "max_bytes",
        "memfd",
        "prefix",
        "reuse_min",
        "threshold",
        "_held",
        "_own",
        "_parked",
        "_seq",
    )

    def __init__(self, prefix: str, threshold: int, max_bytes: int, memfd: bool = False) -> None:
        self.prefix = prefix
        self.threshold = threshold if prefix else 0
        self.max_bytes = max_bytes
        self.memfd = memfd and _MEMFD
        self._own = f"{prefix}w{os.getpid()}."
        self._seq = itertools.count(1)  # next() is atomic: sync tools allocate from their threads
        # Descriptors of memfd segments not yet released by the host (or discarded). Dict updates
        # are atomic under the GIL: sync tools allocate from their threads.
        # The Segment is kept to tell a held descriptor from a later one given the same number.
        self._held: dict[int, Segment] = {}
        #: The host's PID (SO_PEERCRED of the lane socket): whose maps tell when a parked memfd is
        #: unmapped there. 0 (unknown) parks nothing.
        self.host_pid = 0
        self.reuse_min = REUSE_MIN_BYTES
        self._parked = _Parked()

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def _check_size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise PayloadTooLargeError(
                f"{what} is {size} bytes, over the pool's shared-memory payload limit of {self.max_bytes} bytes "
                "(maxShmBytes); send less data per call, or raise maxShmBytes"
            )

    def map_argument(self, name: str, size: int) -> memoryview:
        """A read-only view of a segment the host sent (its arguments)."""
        if not name.startswith(self.prefix + "h") or "/" in name:
            raise ValueError(f"shared-memory segment {name!r} is not one of this host's")
        self._check_size(size, "the arguments")
        if size == 0:
            return memoryview(b"")
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDONLY)
        try:
            mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        return memoryview(mm)

    def allocate(self, nbytes: int) -> memoryview:
        """A writable view of a new segment of ``nbytes`` (for a result sent with 0 copies)."""
        self._check_size(nbytes, "a shared buffer")
        if self.memfd and _dumpable():
            return self._allocate_memfd(nbytes)
        name = f"{self._own}{next(self._seq)}"
        path = os.path.join(SHM_DIR, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _fill_pages(fd, nbytes, SHM_DIR)
            seg = Segment(fd, max(nbytes, 1), flags=mmap.MAP_SHARED | _POPULATE)
        except BaseException:
            os.close(fd)
            remove(name)
            raise
        os.close(fd)
        seg.segment_name = name
        seg.memfd = -1
        return memoryview(seg)[:nbytes]

    def _allocate_memfd(self, nbytes: int) -> memoryview:
        seg = self._parked.take(nbytes, self.host_pid) if nbytes >= self.reuse_min else None
        if seg is not None:
            _zero(seg)  # a new buffer reads as zeros, as a fresh memfd (and bytearray) does
            fd = seg.memfd
        else:
            fd = os.memfd_create(_MEMFD_NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            try:
                _fill_pages(fd, nbytes, "memory (a memfd)")
                seg = Segment(fd, max(nbytes, 1), flags=mmap.MAP_SHARED | _POPULATE)
            except BaseException:
                os.close(fd)
                raise
        # The number is unique: a descriptor number is used again once closed, and a key must not
        # name a later segment (a call's clean-up would close another call's); a reused memfd gets
        # a new key for the same reason.
        seg.segment_name = f"{MEMFD_KEY}{fd}.{next(self._seq)}"
        seg.memfd = fd
        self._held[fd] = seg
        return memoryview(seg)[:nbytes]

    def export(self, data: bytes | memoryview) -> tuple[str, common_pb2.SharedSegment]:
        """The segment that carries ``data`` (its key for ``discard``, and its reference for the
        frame): its own when ``data`` views a whole segment made by ``allocate`` (0 copies), else a
        new one it is copied into (1 copy). A memfd is sealed against shrinking and growing first."""
        size = len(data) if isinstance(data, bytes) else data.nbytes
        self._check_size(size, "the result")
        seg = segment_of(data)
        if (
            seg is None
            or size != len(seg)
            or (seg.memfd >= 0 and (self._held.get(seg.memfd) is not seg or not _dumpable()))
        ):
            view = self.allocate(size)
            view[:] = data if isinstance(data, bytes) else data.cast("B")
            seg = segment_of(view)
            assert seg is not None
        if seg.memfd >= 0:
            fcntl.fcntl(seg.memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
            return seg.segment_name, common_pb2.SharedSegment(fd=seg.memfd, size=size)
        return seg.segment_name, common_pb2.SharedSegment(name=seg.segment_name, size=size)

    def release(self, fd: int) -> None:
        """The host has opened memfd ``fd`` (LANE_RELEASE): park it for reuse (a large one, when
        the host is known), or close this process's descriptor."""
        seg = self._held.pop(fd, None)
        if seg is None:
            return
        # Under --max-rss-mb nothing is parked: a parked segment stays mapped here, and the host
        # would count its pages in this worker's RSS until it recycles the worker for them.
        if self.host_pid > 0 and len(seg) >= self.reuse_min and not memory.rss_limited:
            self._parked.put(seg)
        else:
            os.close(fd)

    def discard(self, key: str) -> None:
        """Removes a segment that will not be (or was not) sent: closes a memfd, unlinks a file."""
        if key.startswith(MEMFD_KEY):
            fd = int(key[len(MEMFD_KEY) :].split(".")[0])
            seg = self._held.get(fd)
            if seg is not None and seg.segment_name == key:
                self.release(fd)
        else:
            remove(key)

    def release_all(self) -> None:
        """The lane closed: no host will open the memfds still held, and no later call reuses one."""
        for fd in list(self._held):
            if self._held.pop(fd, None) is not None:
                os.close(fd)
        self._parked.clear()


class _Parked:
    """Memfds the host has released, kept for a later result of the same size (module docstring).
    ``take`` runs on sync tools' threads, ``put`` on the event loop: a lock guards the list."""

    __slots__ = ("_lock", "_segs", "_timer")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._segs: list[tuple[float, Segment]] = []  # (parked at, monotonic), oldest first
        self._timer: Any = None

    def put(self, seg: Segment) -> None:
        with self._lock:
            self._segs.append((time.monotonic(), seg))
            dropped = self._segs[:-PARK_MAX]
            del self._segs[:-PARK_MAX]
        _close_all(dropped)
        self._arm()

    def take(self, nbytes: int, host_pid: int) -> Segment | None:
        """A parked memfd of exactly ``nbytes`` (its seals fix its size) that the host no longer
        maps and this process holds no view of, or None."""
        with self._lock:
            candidates = [i for i, (_, seg) in enumerate(self._segs) if len(seg) == nbytes]
        if not candidates:
            return None
        mapped = _host_mapped_inodes(host_pid)
        if mapped is None:
            return None
        with self._lock:
            # By index, binding no name to a segment before counting its references.
            for i in range(len(self._segs)):
                if len(self._segs[i][1]) != nbytes or _refs_from(self._segs, i) != _REFS_ALONE:
                    continue
                if os.fstat(self._segs[i][1].memfd).st_ino not in mapped:
                    return self._segs.pop(i)[1]
        return None

    def clear(self) -> None:
        with self._lock:
            dropped, self._segs = self._segs, []
        _close_all(dropped)

    def _arm(self) -> None:
        # Parked pages are dropped after PARK_SECONDS unused, so an idle worker does not keep the
        # memory of its last large results. put() runs on the event loop (LANE_RELEASE).
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test calling release directly): kept until clear()
        self._timer = loop.call_later(PARK_SECONDS, self._expire)

    def _expire(self) -> None:
        self._timer = None
        cutoff = time.monotonic() - PARK_SECONDS
        with self._lock:
            dropped = [p for p in self._segs if p[0] <= cutoff]
            self._segs = [p for p in self._segs if p[0] > cutoff]
            left = bool(self._segs)
        _close_all(dropped)
        if left:
            self._arm()


_PR_GET_DUMPABLE = 3
_libc: Any = None


def _dumpable() -> bool:
    """Whether another process of this user may open this one's /proc/<pid>/fd (PR_GET_DUMPABLE is
    1). Asked at each result, not once: a tool may load a library that turns it off at any time."""
    global _libc
    try:
        if _libc is None:
            # The process's own symbols (libc among them), as lifecycle.py: no `ldconfig -p` run.
            _libc = ctypes.CDLL(None, use_errno=True)
        return bool(_libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 1)
    except (OSError, AttributeError):
        return True


def _refs_from(segs: list[tuple[float, Segment]], i: int) -> int:
    # What sys.getrefcount sees for a segment referenced by the parked list alone; each view of it
    # (a memoryview, a NumPy array over one) adds one. Calibrated below through this same function,
    # so the count does not depend on how an interpreter counts references of its own stack.
    return sys.getrefcount(segs[i][1])


_REFS_ALONE = _refs_from([(0.0, object())], 0)  # type: ignore[list-item]


def _close_all(parked: list[tuple[float, Segment]]) -> None:
    for _, seg in parked:
        os.close(seg.memfd)
        try:
            seg.close()  # unmaps now, not whenever the last reference goes
        except BufferError:
            pass  # a view of it is still alive: it is unmapped with that view


def _host_mapped_inodes(pid: int) -> set[int] | None:
    """Inodes of the result memfds the host ``pid`` maps (None when its maps cannot be read: then
    nothing is reused). A line reads "<range> <perms> <offset> <dev> <inode> /memfd:<name> (deleted)"."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            text = f.read()
    except OSError:
        return None
    marker = b"/memfd:" + _MEMFD_NAME.encode()
    out: set[int] = set()
    for line in text.splitlines():
        if marker in line:
            out.add(int(line.split(None, 5)[4]))
    return out


def _fill_pages(fd: int, nbytes: int, where: str) -> None:
    """Allocates the segment's pages with posix_fallocate; a full filesystem or memory cgroup
    raises SharedMemoryFullError (module docstring: instead of SIGBUS on a later write)."""
    if nbytes == 0:
        return
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG, errno.EDQUOT):
            raise SharedMemoryFullError(
                f"no room for a shared-memory segment of {nbytes} bytes in {where} ({os.strerror(exc.errno)}): "
                "/dev/shm is full or the container's memory limit is reached; free or raise the limit "
                "(docker run --shm-size, a Kubernetes emptyDir with medium: Memory and sizeLimit, or "
                "mount -o remount,size=... /dev/shm), or return smaller results"
            ) from None
        raise


def _zero(seg: Segment) -> None:
    # ctypes' memset releases the GIL; one pass over pages that are already mapped (about a tenth
    # of a fresh segment's cost). Late import: only workers that reuse segments need ctypes.
    import ctypes

    c = ctypes.c_char.from_buffer(seg)
    try:
        ctypes.memset(ctypes.addressof(c), 0, len(seg))
    finally:
        del c


def segment_of(value: Any) -> Segment | None:
    """The Segment under a memoryview or NumPy array (following ``.obj`` and ``.base``), if any."""
    obj = value
    for _ in range(16):
        if isinstance(obj, Segment):
            return obj
        if isinstance(obj, memoryview):
            obj = obj.obj
        else:
            obj = getattr(obj, "base", None)
        if obj is None:
            return None
    return None


def remove(name: str) -> None:
    try:
        os.unlink(os.path.join(SHM_DIR, name))
    except OSError:
        pass


def shm_available() -> bool:
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)
