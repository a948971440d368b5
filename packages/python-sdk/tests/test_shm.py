"""The Python side of shared-memory payloads (shm.py) and @tool(zero_copy=True)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from trellis_worker import ToolContext, memory, tool
from trellis_worker.errors import PayloadTooLargeError, ToolDefinitionError
from trellis_worker.payload import encode_value
from trellis_worker.shm import SHM_DIR, ShmConfig, segment_of


@pytest.fixture
def shm() -> ShmConfig:
    cfg = ShmConfig(f"trellis-shm.pytest-{os.getpid()}.", 1024, 1 << 20)
    yield cfg
    for name in os.listdir(SHM_DIR):
        if name.startswith(cfg.prefix):
            os.unlink(os.path.join(SHM_DIR, name))


def test_zero_copy_needs_a_memoryview_parameter():
    with pytest.raises(ToolDefinitionError, match="memoryview"):

        @tool(zero_copy=True)
        def f(data: bytes) -> int:
            return len(data)

    @tool(zero_copy=True)
    def g(data: memoryview) -> int:
        return data.nbytes

    assert g.__trellis_tool__.zero_copy and g.__trellis_tool__.raw_bytes_param == "data"


def test_a_numpy_array_over_an_allocated_segment_is_sent_by_name_without_a_copy(shm: ShmConfig):
    buf = shm.allocate(4096)
    arr = np.frombuffer(buf, dtype=np.float32)
    arr[:] = 1.5
    data, content_type = encode_value(arr)
    assert content_type == "application/octet-stream"
    assert isinstance(data, memoryview) and segment_of(data) is segment_of(buf)
    name, ref = shm.export(data)
    assert (name, ref.name, ref.size) == (segment_of(buf).segment_name,) * 2 + (4096,)  # 0 copies
    with open(os.path.join(SHM_DIR, name), "rb") as f:
        assert np.frombuffer(f.read(), dtype=np.float32).tolist() == [1.5] * 1024


def test_any_other_large_buffer_is_copied_once_into_a_new_segment(shm: ShmConfig):
    data, _ = encode_value(np.arange(1000, dtype=np.int32))
    assert isinstance(data, bytes)  # ordinary memory: encode_value makes the one copy
    name, ref = shm.export(data)
    assert ref.size == 4000 and name.startswith(f"{shm.prefix}w{os.getpid()}.") and ref.name == name


def test_arguments_map_read_only_and_only_from_the_host(shm: ShmConfig):
    name = f"{shm.prefix}h1.1"
    with open(os.path.join(SHM_DIR, name), "wb") as f:
        f.write(b"\x07" * 2048)
    view = shm.map_argument(name, 2048)
    assert view.readonly and bytes(view[:2]) == b"\x07\x07"
    with pytest.raises(ValueError, match="not one of this host"):
        shm.map_argument("trellis-shm.other.h1.1", 10)
    with pytest.raises(PayloadTooLargeError, match="maxShmBytes"):
        shm.map_argument(name, 2 << 20)


def test_shared_buffer_outside_the_lane_is_ordinary_memory():
    ctx = ToolContext.__new__(ToolContext)
    ctx._shm = None
    ctx._segments = None
    buf = ctx.shared_buffer(10)
    assert isinstance(buf, memoryview) and not buf.readonly and segment_of(buf) is None


@pytest.fixture
def memfd_shm() -> ShmConfig:
    cfg = ShmConfig(f"trellis-shm.pytest-{os.getpid()}.", 1024, 1 << 20, memfd=True)
    yield cfg
    cfg.release_all()


def _memfds() -> list[str]:
    """This process's descriptors of result memfds."""
    out = []
    for n in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{n}").startswith("/memfd:trellis-result"):
                out.append(n)
        except OSError:
            pass  # the directory's own descriptor, closed by now
    return out


def test_a_memfd_result_is_sealed_against_resizing_and_held_until_released(memfd_shm: ShmConfig):
    buf = memfd_shm.allocate(8192)
    arr = np.frombuffer(buf, dtype=np.uint8)
    arr[:] = 9
    key, ref = memfd_shm.export(buf)
    assert ref.fd > 2 and ref.name == "" and ref.size == 8192 and key.startswith(f"memfd:{ref.fd}.")
    assert os.readlink(f"/proc/self/fd/{ref.fd}").startswith("/memfd:trellis-result")
    assert not [n for n in os.listdir(SHM_DIR) if n.startswith(memfd_shm.prefix)]  # nothing named
    seals = fcntl.fcntl(ref.fd, fcntl.F_GET_SEALS)
    assert seals & fcntl.F_SEAL_SHRINK and seals & fcntl.F_SEAL_GROW
    with pytest.raises(PermissionError):
        os.ftruncate(ref.fd, 10)  # what a hostile tool would do to make the host's mapping fault
    with open(f"/proc/self/fd/{ref.fd}", "rb") as f:  # how the host opens it
        assert f.read() == b"\x09" * 8192
    memfd_shm.release(ref.fd)
    memfd_shm.release(ref.fd)  # a second release of the same number does nothing
    # Python's mmap keeps a descriptor of its own (a dup) until the mapping goes: the tool's.
    assert str(ref.fd) not in _memfds() and memfd_shm._held == {}
    del arr, buf
    assert _memfds() == []


def test_a_memfd_buffer_from_an_earlier_call_is_copied_not_resent(memfd_shm: ShmConfig):
    buf = memfd_shm.allocate(4096)
    _, first = memfd_shm.export(buf)
    memfd_shm.release(first.fd)
    other = memfd_shm.allocate(4096)  # may be given the same descriptor number
    key, again = memfd_shm.export(buf)
    assert segment_of(other).memfd != again.fd and again.size == 4096
    memfd_shm.discard(key)
    memfd_shm.discard(segment_of(other).segment_name)
    assert memfd_shm._held == {}


def test_a_key_names_one_segment_even_when_its_descriptor_number_comes_again(memfd_shm: ShmConfig):
    first = memfd_shm.allocate(4096)
    key, ref = memfd_shm.export(first)
    memfd_shm.release(ref.fd)  # the host has it: the number is free again
    later = memfd_shm.allocate(4096)
    assert segment_of(later).memfd == ref.fd  # the lowest free number: the same one
    memfd_shm.discard(key)  # a clean-up of the first call must not close the later segment
    assert list(memfd_shm._held) == [ref.fd]
    memfd_shm.discard(segment_of(later).segment_name)
    assert memfd_shm._held == {}


# --- reuse of released memfds (shm.py, _Parked) ----------------------------------------------------

# A stand-in for the host (mapped-results.ts): opens /proc/<worker>/fd/<n>, maps it MAP_PRIVATE and
# closes its descriptor; "u" unmaps it, "r" prints which byte values the mapping shows.
_HOST = """
import mmap, os, sys
m = None
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "m":
        fd = os.open(f"/proc/{cmd[1]}/fd/{cmd[2]}", os.O_RDONLY)
        m = mmap.mmap(fd, int(cmd[3]), flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        os.close(fd)
    elif cmd[0] == "u":
        m.close()
    elif cmd[0] == "r":
        print(sorted(set(m[:])), end="")
    print(" ok", flush=True)
"""


class _Host:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()


@pytest.fixture
def host() -> _Host:
    h = _Host()
    yield h
    h.proc.kill()
    h.proc.wait()


@pytest.fixture
def reuse_shm(host: _Host) -> ShmConfig:
    """Memfd results for a host process of the test's own (``host``)."""
    cfg = ShmConfig(f"trellis-shm.pytest-{os.getpid()}.", 1024, 1 << 20, memfd=True)
    cfg.host_pid = host.proc.pid
    cfg.reuse_min = 4096
    yield cfg
    cfg.release_all()


def _send(cfg: ShmConfig, nbytes: int, value: int) -> int:
    """A result of ``nbytes`` of ``value`` built in a shared buffer and sent: its memfd number."""
    buf = cfg.allocate(nbytes)
    np.frombuffer(buf, dtype=np.uint8)[:] = value
    _, ref = cfg.export(buf)
    return ref.fd


def test_a_released_memfd_is_reused_only_after_the_host_has_unmapped_it_and_reads_as_zeros(
    reuse_shm: ShmConfig, host: _Host
):
    fd = _send(reuse_shm, 8192, 7)
    assert host.ask(f"m {os.getpid()} {fd} 8192") == "ok"
    reuse_shm.release(fd)  # LANE_RELEASE: the host has opened it, and still maps it
    assert str(fd) in _memfds() and reuse_shm._held == {}, "parked, not closed"
    busy = reuse_shm.allocate(8192)
    assert segment_of(busy).memfd != fd, "a memfd the host still maps is not reused"
    np.frombuffer(busy, dtype=np.uint8)[:] = 9
    assert host.ask("r") == "[7] ok", "the host's pages still show the result it got"
    assert host.ask("u") == "ok"  # the caller's Buffer was garbage-collected: the host unmapped it
    again = reuse_shm.allocate(8192)
    assert segment_of(again).memfd == fd, "the unmapped memfd is reused"
    assert bytes(again) == bytes(8192), "a reused buffer reads as zeros, as a new one does"
    _, ref = reuse_shm.export(again)
    assert ref.fd == fd and reuse_shm._held[fd] is segment_of(again)


def _mapping_of(address: int) -> int | None:
    """The inode of the mapping of this process that ``address`` falls in (None: none)."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return int(parts[4])
    return None


def test_a_numpy_result_in_a_reused_memfd_is_sent_with_0_copies(reuse_shm: ShmConfig):
    # The array's base buffer address lies in the mapping of the very memfd the frame names, for a
    # fresh memfd and for a reused one alike: the tool's writes are the bytes the host maps.
    inodes = []
    for value in (5, 6):
        buf = reuse_shm.allocate(8192)
        arr = np.frombuffer(buf, dtype=np.float64)
        arr[:] = value
        data, _ = encode_value(arr)
        _, ref = reuse_shm.export(data)
        inode = os.fstat(ref.fd).st_ino
        assert _mapping_of(arr.__array_interface__["data"][0]) == inode
        with open(f"/proc/self/fd/{ref.fd}", "rb") as f:
            assert np.frombuffer(f.read(), dtype=np.float64).tolist() == [value] * 1024
        inodes.append(inode)
        del buf, arr, data
        reuse_shm.release(ref.fd)
    assert inodes[0] == inodes[1], "the second result reused the first one's memfd"


def test_a_parked_memfd_that_a_view_still_holds_is_not_reused(reuse_shm: ShmConfig):
    buf = reuse_shm.allocate(8192)
    arr = np.frombuffer(buf, dtype=np.uint8)
    arr[:] = 3
    _, ref = reuse_shm.export(buf)
    reuse_shm.release(ref.fd)
    del buf  # the tool kept the NumPy array over its result (against the docs' advice)
    other = reuse_shm.allocate(8192)
    assert segment_of(other).memfd != ref.fd and arr.tolist() == [3] * 8192
    del arr
    assert segment_of(reuse_shm.allocate(8192)).memfd == ref.fd


def test_parked_memfds_are_bounded_and_closed_with_the_lane(reuse_shm: ShmConfig):
    from trellis_worker.shm import PARK_MAX

    fds = [_send(reuse_shm, 8192 + i * 4096, i) for i in range(PARK_MAX + 2)]
    for fd in fds:
        reuse_shm.release(fd)
    open_fds = set(_memfds())  # each parked memfd: its descriptor, and the dup its mmap keeps
    assert len(open_fds) == 2 * PARK_MAX and {str(fd) for fd in fds[-PARK_MAX:]} <= open_fds
    assert not {str(fd) for fd in fds[:-PARK_MAX]} & open_fds, "the oldest are closed"
    reuse_shm.release_all()
    assert _memfds() == []


def test_nothing_is_parked_without_a_known_host_under_max_rss_mb_or_below_the_reuse_size(
    reuse_shm: ShmConfig, monkeypatch: pytest.MonkeyPatch
):
    small = _send(reuse_shm, 2048, 1)
    reuse_shm.release(small)
    assert _memfds() == []
    # --max-rss-mb: the host polls this worker's RSS, which would count a parked segment's pages.
    monkeypatch.setattr(memory, "rss_limited", True)
    capped = _send(reuse_shm, 8192, 1)
    reuse_shm.release(capped)
    assert _memfds() == []
    monkeypatch.setattr(memory, "rss_limited", False)
    reuse_shm.host_pid = 0
    large = _send(reuse_shm, 8192, 1)
    reuse_shm.release(large)
    assert _memfds() == []


_FULL_SHM = """
import errno, os, resource, signal, sys
import grpc
from trellis_worker import SharedMemoryFullError, shm
from trellis_worker.status import status_for

shm.SHM_DIR = sys.argv[1]
cfg = shm.ShmConfig("trellis-shm.pytest.", 1024, 64 << 20, memfd=sys.argv[2] == "memfd")
if cfg.memfd:  # a memfd has no filesystem to fill: a file-size limit fails its fallocate alike
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))
small = cfg.allocate(64 << 10)  # fits
small[:] = b"x" * (64 << 10)
try:
    cfg.allocate(4 << 20)
except SharedMemoryFullError as exc:
    assert status_for(exc) == grpc.StatusCode.RESOURCE_EXHAUSTED, status_for(exc)
    print(exc)
else:
    sys.exit("no error")
assert bytes(small[:2]) == b"xx", "what was allocated before is intact"
print(sorted(os.listdir(shm.SHM_DIR)))
"""


@pytest.mark.parametrize("kind", ["file", "memfd"])
def test_a_full_dev_shm_fails_the_allocation_with_a_clear_error_and_leaves_nothing(kind: str):
    # A 1 MiB tmpfs of its own, in a mount namespace that ends with the child: no mount is left
    # behind whatever happens (the memfd case fills its file-size limit instead).
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-Urm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -Urm (user and mount namespaces) to mount a small tmpfs")
    with tempfile.TemporaryDirectory(prefix="trellis-full-shm-") as d:
        script = f'mount -t tmpfs -o size=1m tmpfs "$1" && exec "{sys.executable}" -c "$2" "$1" "$3"'
        out = subprocess.run(
            [unshare, "-Urm", "sh", "-c", script, "sh", d, _FULL_SHM, kind],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        message, listing = out.stdout.strip().splitlines()
        assert "no room for a shared-memory segment of 4194304 bytes" in message
        assert "/dev/shm is full" in message and "--shm-size" in message
        # The failed segment was removed; only the first (still live) one is there.
        assert listing.count("trellis-shm.pytest.") == (1 if kind == "file" else 0), listing
        assert os.listdir(d) == []
