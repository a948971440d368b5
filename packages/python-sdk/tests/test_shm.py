"""The Python side of shared-memory payloads (shm.py) and @tool(zero_copy=True)."""

from __future__ import annotations

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
    name, size = shm.export(data)
    assert (name, size) == (segment_of(buf).segment_name, 4096)  # the segment itself: 0 copies
    with open(os.path.join(SHM_DIR, name), "rb") as f:
        assert np.frombuffer(f.read(), dtype=np.float32).tolist() == [1.5] * 1024


def test_any_other_large_buffer_is_copied_once_into_a_new_segment(shm: ShmConfig):
    data, _ = encode_value(np.arange(1000, dtype=np.int32))
    assert isinstance(data, bytes)  # ordinary memory: encode_value makes the one copy
    name, size = shm.export(data)
    assert size == 4000 and name.startswith(f"{shm.prefix}w{os.getpid()}.")


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
