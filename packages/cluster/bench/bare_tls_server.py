"""The raw baseline of the cluster pool benchmarks: a bare grpcio (asyncio) server of the
trellis.bridge.v1 ToolService whose Execute returns the request's payload unchanged, listening on a
TCP address (inside a network namespace, over its veth), with or without mTLS. No SDK: no argument
validation, no JSON, no tool dispatch; only the generated message classes and grpcio's own TLS.

    python bare_tls_server.py <host:port> [--tls-ca ca.pem --tls-cert node.pem --tls-key node.key] [marker ...]

With the three TLS files it requires a client certificate signed by the CA (mutual TLS), as a remote
Trellis worker does. It is the "raw grpc-js -> grpcio mTLS call over the same veth" of issue 15.

Prints `READY <host:port>` on stdout once bound. Exits when stdin reaches EOF (its bench is gone), so
a benchmark that dies leaves nothing behind.
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


def _exit_on_eof() -> None:
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


async def main(listen: str, argv: list[str]) -> None:
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MAX),
            ("grpc.max_receive_message_length", MAX),
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ToolServiceServicer_to_server(Echo(), server)
    ca, cert, key = (_flag(argv, f) for f in ("--tls-ca", "--tls-cert", "--tls-key"))
    if ca is not None and cert is not None and key is not None:
        creds = grpc.ssl_server_credentials(
            [(_read(key), _read(cert))], root_certificates=_read(ca), require_client_auth=True
        )
        port = server.add_secure_port(listen, creds)
    else:
        port = server.add_insecure_port(listen)
    await server.start()
    host = listen.rsplit(":", 1)[0]
    sys.stdout.write(f"READY {host}:{port}\n")
    sys.stdout.flush()
    threading.Thread(target=_exit_on_eof, daemon=True).start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
