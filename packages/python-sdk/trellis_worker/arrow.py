"""Arrow tables as tool arguments and results (pyarrow, the optional ``arrow`` extra).

A ``pyarrow.Table`` or ``RecordBatch`` crosses the bridge as one Arrow IPC stream, content type
``application/vnd.apache.arrow.stream`` (the host reads it with the apache-arrow npm package).

  - Argument: a tool parameter annotated ``pa.Table`` (or ``pa.RecordBatch``) receives the table
    read from the payload in place: over the call lane a large one is a view of the shared-memory
    mapping, and its column buffers point into that mapping (0 copies; test_arrow.py checks the
    addresses).
  - Result: a returned table is written as an IPC stream straight into ``ctx.shared_buffer`` (its
    size is measured first with a MockOutputStream, which copies nothing), so the one copy that
    serializing needs lands in the segment the host reads: no copy after it.

pyarrow is imported only when a table shows up, so workers without it start as fast as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def is_arrow_type(hint: Any) -> str | None:
    """ "Table" or "RecordBatch" when ``hint`` is that pyarrow class, else None (no import)."""
    module = getattr(hint, "__module__", "") or ""
    name = getattr(hint, "__name__", "")
    if module.startswith("pyarrow") and name in ("Table", "RecordBatch"):
        return name
    return None


def is_arrow_value(value: Any) -> bool:
    return is_arrow_type(type(value)) is not None


def _pa() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow.ipc  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise ImportError(
            "an Arrow table crossed the bridge but pyarrow is not installed in the worker's Python; "
            "install it (pip install 'trellis_worker[arrow]' or pip install pyarrow)"
        ) from exc
    return pa


def read_table(data: bytes | bytearray | memoryview, kind: str) -> Any:
    """An Arrow IPC stream -> a Table (or the first RecordBatch), viewing ``data`` without a copy."""
    pa = _pa()
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    if kind == "RecordBatch":
        return reader.read_next_batch()
    return reader.read_all()


def write_table(value: Any, alloc: Callable[[int], memoryview] | None) -> bytes | memoryview:
    """A Table or RecordBatch -> its IPC stream, written into ``alloc(size)`` when given (a shared
    buffer for a large result), else into new bytes."""
    pa = _pa()
    schema = value.schema

    def write(sink: Any) -> None:
        with pa.ipc.new_stream(sink, schema) as writer:
            if isinstance(value, pa.RecordBatch):
                writer.write_batch(value)
            else:
                writer.write_table(value)

    if alloc is None:
        out = pa.BufferOutputStream()
        write(out)
        return out.getvalue().to_pybytes()
    mock = pa.MockOutputStream()
    write(mock)
    view = alloc(mock.size())
    write(pa.FixedSizeBufferWriter(pa.py_buffer(view)))
    return view
