"""Worker process lifecycle: readiness line, host death, SIGTERM drain, start-up failures."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import grpc
import pytest
from conftest import (
    READY_TIMEOUT_S,
    json_payload,
    kill_if_ours,
    pid_alive,
    wait_until,
    worker_command,
    worker_env,
)
from trellis_worker._stubs import tool_service_pb2 as pb
from trellis_worker._stubs import tool_service_pb2_grpc

READY_RE = re.compile(
    r'^TRELLIS_READY \{"address": "[^"]+", "pid": \d+, "protocol": "trellis\.bridge\.v1", "tools": \d+\}\n$'
)


def test_readiness_line_on_a_unix_socket(workers, short_dir: Path):
    w = workers.start()
    assert READY_RE.match(w.ready_line), w.ready_line
    assert w.ready == {
        "address": f"unix:{short_dir}/{w.run_id}.sock",
        "pid": w.pid,
        "protocol": "trellis.bridge.v1",
        "tools": w.ready["tools"],
    }
    assert w.ready["tools"] == 31
    assert Path(f"{short_dir}/{w.run_id}.sock").is_socket()
    assert w.call("add", {"a": 1, "b": 2}) == 3


def test_readiness_line_on_loopback_port_zero(workers):
    w = workers.start(listen="127.0.0.1:0")
    assert READY_RE.match(w.ready_line), w.ready_line
    host, port = w.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # the real port, not 0
    assert w.call("add", {"a": 2, "b": 2}) == 4


def test_stale_socket_file_is_replaced(workers, short_dir: Path):
    path = short_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as leftover:  # what a SIGKILLed worker leaves behind
        leftover.bind(str(path))
    assert path.is_socket()
    w = workers.start(listen=f"unix:{path}")
    assert w.address == f"unix:{path}"
    assert w.call("add", {"a": 1, "b": 1}) == 2


def test_exits_within_a_second_of_stdin_eof(workers):
    w = workers.start()
    w.close_channel()
    w.proc.stdin.close()  # what the kernel does when the host dies
    assert w.proc.wait(timeout=1.0) == 0


def test_stdin_eof_cancels_in_flight_calls(workers):
    w = workers.start()
    future = w.stub.Execute.future(pb.ExecuteRequest(tool="hang", payload=json_payload({"token": "t"})), timeout=60)
    wait_until(lambda: w.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight == 1, timeout=10)
    w.proc.stdin.close()
    assert w.proc.wait(timeout=1.0) == 0  # no 5 s drain: nobody is waiting for the result
    with pytest.raises(grpc.RpcError):
        future.result(timeout=10)


def test_sigterm_drains_in_flight_calls_and_refuses_new_ones(workers):
    w = workers.start("--grace-ms", "10000")
    slow = w.stub.Execute.future(pb.ExecuteRequest(tool="sleep", payload=json_payload({"seconds": 1.0})), timeout=30)
    wait_until(lambda: w.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight == 1, timeout=10)
    w.proc.send_signal(signal.SIGTERM)

    def refused() -> bool:
        try:
            w.call("add", {"a": 1, "b": 1}, timeout=5)
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.UNAVAILABLE
        return False

    wait_until(refused, timeout=5)
    assert json.loads(slow.result(timeout=20).result.data) == "slept"  # the in-flight call finished
    assert w.proc.wait(timeout=10) == 0


def test_sigterm_cancels_calls_still_running_after_the_grace_period(workers):
    w = workers.start("--grace-ms", "200")
    token = uuid.uuid4().hex
    stuck = w.stub.Execute.future(pb.ExecuteRequest(tool="hang", payload=json_payload({"token": token})), timeout=60)
    wait_until(lambda: w.stub.Heartbeat(pb.HeartbeatRequest(), timeout=5).stats.in_flight == 1, timeout=10)
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=5) == 0
    with pytest.raises(grpc.RpcError):
        stuck.result(timeout=10)


PARENT = textwrap.dedent("""
    import subprocess, sys, time
    worker = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sys.stdout.write(f"{worker.pid} " + worker.stdout.readline().decode())
    sys.stdout.flush()
    time.sleep(120)  # until the test kills us (bounded in case it never does)
    """)


@pytest.mark.parametrize("stdin_watch", [True, False], ids=["stdin-and-pdeathsig", "pdeathsig-only"])
def test_worker_exits_when_its_parent_is_killed(short_dir: Path, stdin_watch: bool):
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    cmd = worker_command(run_id=run_id, listen=f"unix:{short_dir}/w.sock")
    if not stdin_watch:
        cmd.append("--no-stdin-watch")
    # The marker lets the repo's leak check find the intermediate parent too.
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, "trellis-test-marker", *cmd], stdout=subprocess.PIPE, env=worker_env()
    )
    worker_pid = 0
    try:
        line = _read_line(parent, READY_TIMEOUT_S)
        worker_pid = int(line.split(" ", 1)[0])
        assert "TRELLIS_READY" in line
        assert pid_alive(worker_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)
        killed_at = time.monotonic()
        wait_until(lambda: not pid_alive(worker_pid), timeout=1.0)
        assert time.monotonic() - killed_at < 1.0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=5)
        if worker_pid:
            kill_if_ours(worker_pid, run_id)
        parent.stdout.close()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    import select

    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, "no line within the time limit"
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, "process closed its stdout"
            buf += chunk
    return buf.decode()


def _run_to_exit(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trellis_worker", *args],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=timeout,
        stdin=subprocess.PIPE,
    )


def test_start_up_failures_exit_with_distinct_codes(short_dir: Path, tmp_path: Path):
    marker = f"--trellis-run-id=test-{uuid.uuid4().hex[:12]}"
    r = _run_to_exit("--tools", "tools_fixture", marker, "--listen", "0.0.0.0:0")
    assert r.returncode == 4 and "not allowed" in r.stderr and r.stdout == ""
    r = _run_to_exit("--tools", "tools_fixture", marker, "--listen", f"unix:{short_dir}/no/such/dir/w.sock")
    assert r.returncode == 4 and "cannot listen" in r.stderr
    r = _run_to_exit("--tools", "no_such_module_xyz", marker)
    assert r.returncode == 3 and "No module named 'no_such_module_xyz'" in r.stderr
    empty = tmp_path / "no_tools.py"
    empty.write_text("X = 1\n")
    r = _run_to_exit("--tools", str(empty), marker)
    assert r.returncode == 3 and "no @tool functions found" in r.stderr
    r = _run_to_exit("--tools", "tools_fixture", marker, "--concurrency", "0")
    assert r.returncode == 2 and "--concurrency" in r.stderr
    r = _run_to_exit("--tools", "tools_fixture", marker, "--host-pid", str(os.getpid() + 1_000_000))
    assert r.returncode == 1 and "is gone" in r.stderr and r.stdout == ""


def test_run_id_alias_and_flags_are_reported(workers):
    w = workers.start("--concurrency", "2", "--max-message-bytes", "1048576")
    d = w.stub.Describe(pb.DescribeRequest(), timeout=10)
    assert d.run_id == w.run_id
    assert (d.concurrency, d.max_message_bytes) == (2, 1048576)
    assert f"--trellis-run-id={w.run_id}" in " ".join(w.proc.args)


def test_run_id_spelled_as_run_id(short_dir: Path):
    run_id = f"trellis-test-marker-{uuid.uuid4().hex[:12]}"  # the leak check's marker, as the value
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trellis_worker",
            "--tools",
            "tools_fixture",
            "--run-id",
            run_id,
            "--listen",
            f"unix:{short_dir}/alias.sock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=worker_env(),
    )
    try:
        ready = json.loads(_read_line(proc, READY_TIMEOUT_S).split(" ", 1)[1])
        with grpc.insecure_channel(ready["address"]) as channel:
            health = tool_service_pb2_grpc.ToolServiceStub(channel).Health(pb.HealthRequest(), timeout=10)
        assert health.run_id == run_id
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()
