"""Unix socket paths: a missing folder is named at once, and a worker's exit cleans up after itself."""

from __future__ import annotations

import os
import tempfile

import pytest
from trellis_worker.server import ListenAddressError, parse_listen
from trellis_worker.socket_cleanup import remove_socket_files


def test_missing_socket_folder_is_named_with_its_fix(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ListenAddressError) as err:
        parse_listen(f"unix:{missing}/w1.sock")
    assert f"the folder {missing} does not exist" in str(err.value)
    assert f"mkdir -p {missing}" in str(err.value)


def test_last_worker_out_removes_the_hosts_socket_folder():
    folder = tempfile.mkdtemp(prefix="trellis-")
    try:
        socks = [os.path.join(folder, n) for n in ("w0-1.sock", "w1-2.sock", "host.sock")]
        for s in [*socks, socks[0] + ".lane", socks[1] + ".lane"]:
            open(s, "w").close()
        # The first worker out: its own sockets (gRPC and call lane) go, the folder stays (another
        # worker's are there).
        remove_socket_files(f"unix:{socks[0]}", f"unix:{socks[2]}", host_gone=False)
        assert sorted(os.listdir(folder)) == ["host.sock", "w1-2.sock", "w1-2.sock.lane"]
        # The last one, with the host gone (kill -9): the host's socket and the folder go too.
        remove_socket_files(f"unix:{socks[1]}", f"unix:{socks[2]}", host_gone=True)
        assert not os.path.exists(folder)
    finally:
        if os.path.exists(folder):
            for n in os.listdir(folder):
                os.unlink(os.path.join(folder, n))
            os.rmdir(folder)


def test_a_folder_the_user_named_is_never_removed(tmp_path):
    sock = tmp_path / "w.sock"
    sock.touch()
    remove_socket_files(f"unix:{sock}", "", host_gone=True)
    assert not sock.exists()
    assert tmp_path.exists()
