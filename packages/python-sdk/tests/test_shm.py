"""The Python side of shared-memory payloads (shm.py) and @tool(zero_copy=True)."""

from __future__ import annotations

import fcntl
import os

import numpy as np
import pytest
from trellis_worker import ToolContext, tool
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
