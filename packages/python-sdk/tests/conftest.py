"""Helpers shared by the tests: start real `python -m trellis_worker` processes and talk to them.

Every worker's command line carries `--trellis-run-id=test-...` so the repo's leak check can find
leftovers, and every process a test starts is killed in a `finally`.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from trellis_worker._stubs import common_pb2, tool_service_pb2_grpc
from trellis_worker._stubs import tool_service_pb2 as pb
from trellis_worker.status import decode_error_detail

TESTS_DIR = Path(__file__).resolve().parent
FIXTURE_TOOLS = TESTS_DIR / "tools_fixture.py"
READY_TIMEOUT_S = 20.0
JSON = "application/json"
OCTET = "application/octet-stream"


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Polls `condition` until it returns a truthy value or `timeout` seconds pass (then fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while /proc/PID exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def kill_if_ours(pid: int, marker: str) -> None:
    """SIGKILLs `pid` only if its command line still carries our marker (PID-reuse guard)."""
    if pid_alive(pid) and marker in cmdline(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def json_payload(value: Any) -> common_pb2.Payload:
    return common_pb2.Payload(data=json.dumps(value).encode(), content_type=JSON)


def error_of(exc: grpc.RpcError) -> tuple[grpc.StatusCode, common_pb2.ErrorDetail | None]:
    return exc.code(), decode_error_detail(exc.trailing_metadata())


class Worker:
    """A running worker subprocess plus a sync gRPC client connected to it."""

    def __init__(self, proc: subprocess.Popen[bytes], run_id: str, stderr_path: Path) -> None:
        self.proc = proc
        self.run_id = run_id
        self.stderr_path = stderr_path
        self.ready: dict[str, Any] = {}
        self.ready_line = ""
        self._channel: grpc.Channel | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return self.ready["address"]

    @property
    def stub(self) -> tool_service_pb2_grpc.ToolServiceStub:
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address)
        return tool_service_pb2_grpc.ToolServiceStub(self._channel)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"worker not ready within {timeout}s; stderr:\n{self.stderr()}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"worker exited before ready ({self.proc.wait(5)}); stderr:\n{self.stderr()}")
                buf += chunk
        self.ready_line = buf.decode()
        assert self.ready_line.count("\n") == 1, self.ready_line
        prefix, _, body = self.ready_line.rstrip("\n").partition(" ")
        assert prefix == "TRELLIS_READY", self.ready_line
        self.ready = json.loads(body)

    def call(
        self,
        tool: str,
        args: Any = None,
        *,
        payload: common_pb2.Payload | None = None,
        timeout: float | None = 30.0,
        **fields: Any,
    ) -> Any:
        """Executes `tool` and returns the decoded JSON result (or bytes for a raw result)."""
        response = self.execute(tool, args, payload=payload, timeout=timeout, **fields)
        if response.result.content_type == JSON:
            return json.loads(response.result.data)
        return response.result.data

    def execute(
        self,
        tool: str,
        args: Any = None,
        *,
        payload: common_pb2.Payload | None = None,
        timeout: float | None = 30.0,
        **fields: Any,
    ) -> pb.ExecuteResponse:
        request = pb.ExecuteRequest(tool=tool, payload=payload or json_payload(args or {}), **fields)
        return self.stub.Execute(request, timeout=timeout)

    def stream(self, tool: str, args: Any = None, timeout: float | None = 30.0, **fields: Any) -> list[Any]:
        request = pb.ExecuteRequest(tool=tool, payload=json_payload(args or {}), **fields)
        items = list(self.stub.ExecuteStream(request, timeout=timeout))
        assert [i.index for i in items] == list(range(len(items)))
        return [json.loads(i.item.data) if i.item.content_type == JSON else i.item.data for i in items]

    def close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def kill(self) -> None:
        self.close_channel()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        finally:
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()


def worker_command(*extra: str, run_id: str, tools: str = "tools_fixture", listen: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "trellis_worker", "--tools", tools, f"--trellis-run-id={run_id}"]
    if listen is not None:
        cmd += ["--listen", listen]
    return cmd + list(extra)


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory for Unix sockets (sun_path is limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tw-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class WorkerFactory:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.workers: list[Worker] = []

    def start(
        self,
        *extra: str,
        listen: str | None = "unix",
        tools: str = "tools_fixture",
        wait_ready: bool = True,
        stdin: int = subprocess.PIPE,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> Worker:
        run_id = f"test-{uuid.uuid4().hex[:12]}"
        if listen == "unix":
            listen = f"unix:{self.dir}/{run_id}.sock"
        stderr_path = self.dir / f"{run_id}.stderr"
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                worker_command(*extra, run_id=run_id, tools=tools, listen=listen),
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=err,
                env={**worker_env(), **(env or {})},
                cwd=self.dir,
                pass_fds=pass_fds,
            )
        worker = Worker(proc, run_id, stderr_path)
        self.workers.append(worker)
        if wait_ready:
            worker.wait_ready()
        return worker

    def cleanup(self) -> None:
        for w in self.workers:
            w.kill()


@pytest.fixture
def workers(short_dir: Path) -> Iterator[WorkerFactory]:
    """Starts workers for one test; kills all of them afterwards, whatever happened."""
    factory = WorkerFactory(short_dir)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    """One worker shared by the tests of a module (for calls that leave it healthy)."""
    directory = Path(tempfile.mkdtemp(prefix="tw-", dir="/tmp"))
    factory = WorkerFactory(directory)
    try:
        yield factory.start("--concurrency", "4")
    finally:
        factory.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
