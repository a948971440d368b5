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

Why files in /dev/shm and not ``multiprocessing.shared_memory``: that module registers every segment
with a resource-tracker process (one more process per worker) and unlinks on its own schedule;
naming and removal are exactly what has to be under the registry's control here.
"""

from __future__ import annotations

import fcntl
import itertools
import mmap
import os
from typing import Any

from ._proto.trellis.bridge.v1 import common_pb2
from .errors import PayloadTooLargeError

SHM_DIR = "/dev/shm"
# A new segment's pages are allocated in one pass when it is mapped, not by one page fault per
# 4 KiB page as the tool first writes it (about a quarter less time for a 100 MiB result here).
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
_MEMFD = hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")
#: The prefix of a memfd segment's key (``memfd:<fd>.<n>``): it has no name in /dev/shm.
MEMFD_KEY = "memfd:"


class Segment(mmap.mmap):
    """A mapped segment that knows its file name (so a returned view of it is sent by name)."""

    segment_name: str
    #: The memfd's descriptor (held until the host releases it), or -1 for a file in /dev/shm.
    memfd: int


class ShmConfig:
    """What the host set for one lane (OpenLaneRequest): name prefix, threshold, limit, and whether
    results are sealed memfds the host maps (``memfd``)."""

    __slots__ = ("max_bytes", "memfd", "prefix", "threshold", "_held", "_own", "_seq")

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
        if self.memfd:
            return self._allocate_memfd(nbytes)
        name = f"{self._own}{next(self._seq)}"
        path = os.path.join(SHM_DIR, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, nbytes)
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
        fd = os.memfd_create("trellis-result", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, nbytes)
            seg = Segment(fd, max(nbytes, 1), flags=mmap.MAP_SHARED | _POPULATE)
        except BaseException:
            os.close(fd)
            raise
        # The number is unique: a descriptor number is used again once closed, and a key must not
        # name a later segment (a call's clean-up would close another call's).
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
        if seg is None or size != len(seg) or (seg.memfd >= 0 and self._held.get(seg.memfd) is not seg):
            view = self.allocate(size)
            view[:] = data if isinstance(data, bytes) else data.cast("B")
            seg = segment_of(view)
            assert seg is not None
        if seg.memfd >= 0:
            fcntl.fcntl(seg.memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
            return seg.segment_name, common_pb2.SharedSegment(fd=seg.memfd, size=size)
        return seg.segment_name, common_pb2.SharedSegment(name=seg.segment_name, size=size)

    def release(self, fd: int) -> None:
        """The host has opened memfd ``fd`` (LANE_RELEASE): close this process's descriptor."""
        if self._held.pop(fd, None) is not None:
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
        """The lane closed: no host will open the memfds still held."""
        for fd in list(self._held):
            self.release(fd)


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
