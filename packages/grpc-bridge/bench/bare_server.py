"""The raw baseline of the bridge benchmarks: a bare grpcio (asyncio) server of the same
trellis.bridge.v1 ToolService, whose Execute returns the request's payload unchanged. No SDK: no
argument validation, no JSON, no tool dispatch, no context; only the generated message classes.

    python bare_server.py unix:/tmp/x.sock [--blocking] [marker ...]

With --blocking, Execute runs its (blocking) echo the way a plain grpc.aio server runs blocking
code: in the event loop's default executor (loop.run_in_executor). It is the baseline of a sync
Trellis tool, which the worker also runs on a thread; the default mode is the async handler.

Prints `READY <address>` on stdout once bound. Exits when stdin reaches EOF (its host is gone), so a
benchmark that dies leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading

# The generated modules of the Python SDK, imported directly (not through the trellis_worker
# package, whose __init__ would load the whole SDK).
_PROTO = os.path.join(os.path.dirname(__file__), "..", "..", "python-sdk", "trellis_worker", "_proto")
sys.path.insert(0, os.path.abspath(_PROTO))

import grpc  # noqa: E402
from trellis.bridge.v1 import tool_service_pb2 as pb  # noqa: E402
from trellis.bridge.v1 import tool_service_pb2_grpc as pb_grpc  # noqa: E402

MAX = 16 * 1024 * 1024


class Echo(pb_grpc.ToolServiceServicer):
    async def Execute(self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext) -> pb.ExecuteResponse:
        return pb.ExecuteResponse(result=request.payload)

    async def Ping(self, request: pb.PingRequest, context: grpc.aio.ServicerContext) -> pb.PingResponse:
        return pb.PingResponse(data=request.data)


def _echo(request: pb.ExecuteRequest) -> pb.ExecuteResponse:
    return pb.ExecuteResponse(result=request.payload)


class BlockingEcho(Echo):
    async def Execute(self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext) -> pb.ExecuteResponse:
        return await asyncio.get_running_loop().run_in_executor(None, _echo, request)


def _exit_on_eof() -> None:
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


async def main(listen: str, blocking: bool) -> None:
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MAX),
            ("grpc.max_receive_message_length", MAX),
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ToolServiceServicer_to_server(BlockingEcho() if blocking else Echo(), server)
    port = server.add_insecure_port(listen)
    await server.start()
    address = listen if listen.startswith("unix:") else f"127.0.0.1:{port}"
    sys.stdout.write(f"READY {address}\n")
    sys.stdout.flush()
    threading.Thread(target=_exit_on_eof, daemon=True).start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], "--blocking" in sys.argv[2:]))
