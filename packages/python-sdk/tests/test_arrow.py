"""Arrow tables (trellis_worker/arrow.py): a pyarrow Table argument is read in place from the
shared-memory mapping (its column buffers lie in it: 0 copies), and a Table result is written as
its IPC stream straight into a shared buffer (no copy after the one serializing needs)."""

from __future__ import annotations

import os
import uuid

import pytest

pa = pytest.importorskip("pyarrow")
np = pytest.importorskip("numpy")

from trellis_worker import tool  # noqa: E402
from trellis_worker.arrow import ARROW_STREAM  # noqa: E402
from trellis_worker.errors import ValidationError  # noqa: E402
from trellis_worker.payload import decode_arguments, encode_value  # noqa: E402
from trellis_worker.shm import SHM_DIR, ShmConfig, remove, segment_of  # noqa: E402
from trellis_worker.tool import build_tool_spec  # noqa: E402


def _table(n: int) -> pa.Table:
    return pa.table({"x": pa.array(np.arange(n, dtype=np.int64)), "label": [f"r{i}" for i in range(n)]})


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _spec():
    @tool
    def total(table: pa.Table) -> int:
        return 0

    return build_tool_spec(total)


@pytest.fixture
def shm() -> ShmConfig:
    return ShmConfig(f"trellis-shm.test-{uuid.uuid4().hex[:8]}.", 1024, 1 << 30)


def test_a_table_argument_is_read_in_place_from_the_mapping(shm: ShmConfig):
    table = _table(300_000)
    data = _ipc(table)
    name = f"{shm.prefix}h{os.getpid()}.1"  # as the host writes an argument's segment
    with open(os.path.join(SHM_DIR, name), "wb") as f:
        f.write(data)
    try:
        view = shm.map_argument(name, len(data))
        lo = np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0]
        kwargs = decode_arguments(_spec(), view, ARROW_STREAM)
        got = kwargs["table"]
        assert got.equals(table)
        for column in ("x", "label"):
            for buf in got.column(column).chunks[0].buffers():
                if buf is not None and buf.size:
                    assert lo <= buf.address < lo + len(data), f"{column} was copied out of the mapping"
    finally:
        remove(name)


def test_a_table_result_is_written_straight_into_a_shared_buffer(shm: ShmConfig):
    table = _table(200_000)
    data, content_type = encode_value(table, shm.allocate)
    try:
        assert content_type == ARROW_STREAM
        assert isinstance(data, memoryview) and segment_of(data) is not None, "no copy after the IPC writer"
        assert pa.ipc.open_stream(pa.py_buffer(data)).read_all().equals(table)
    finally:
        remove(segment_of(data).segment_name)  # type: ignore[union-attr]


def test_without_shared_memory_a_table_is_plain_ipc_bytes():
    table = _table(10)
    data, content_type = encode_value(table)
    assert content_type == ARROW_STREAM and isinstance(data, bytes)
    assert pa.ipc.open_stream(data).read_all().equals(table)
    batch = table.to_batches()[0]
    data, _ = encode_value(batch)
    assert pa.ipc.open_stream(data).read_next_batch().equals(batch)


def test_a_table_parameter_takes_the_raw_payload_and_refuses_what_is_not_ipc():
    spec = _spec()
    assert spec.raw_bytes_param == "table"
    with pytest.raises(ValidationError, match="Arrow IPC stream"):
        decode_arguments(spec, b"not arrow", ARROW_STREAM)
