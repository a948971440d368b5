"""A descriptor the host leaked into the worker (its LMDB data file, which LMDB opens without
O_CLOEXEC) is closed at the worker's start: neither the worker nor any process its tools start holds
it, whatever way they spawn (trellis_worker/inherited_fds.py)."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import WorkerFactory


def test_a_descriptor_inherited_from_the_host_reaches_neither_the_worker_nor_its_tools_children(
    workers: WorkerFactory, short_dir: Path
) -> None:
    leaked = short_dir / "registry.mdb"
    # Opened read-write like LMDB's data file; pass_fds makes it cross the exec as the host's does.
    fd = os.open(leaked, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        worker = workers.start(pass_fds=(fd,))
        # The worker really was handed it: its parent (this process) still holds it at that number.
        assert os.readlink(f"/proc/self/fd/{fd}") == str(leaked)
        seen = worker.call("descriptors", {"scratch": str(short_dir)})
    finally:
        os.close(fd)
    assert set(seen) == {"worker", "popen", "system", "escaped"}
    for who, links in seen.items():
        assert str(leaked) not in links, f"{who} holds {leaked}: {links}"


def test_the_worker_keeps_what_it_opened_itself(workers: WorkerFactory, short_dir: Path) -> None:
    # The readiness line travels on a descriptor the worker dup()s from stdout after the cleanup,
    # and gRPC's sockets are its own: a worker that answers a call after the cleanup kept them.
    fd = os.open(short_dir / "other", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        worker = workers.start(pass_fds=(fd,))
    finally:
        os.close(fd)
    assert worker.call("add", {"a": 2, "b": 3}) == 5
