"""Raw baselines of the call-lane benchmarks (`pnpm bench bridge`, suite `lane`): the physical
limits the lane is measured against, with no SDK at all.

    python bare_lane_server.py unix:/tmp/x.sock /tmp/y.sock [marker ...]

  - A framed Unix-socket echo on the second path: an asyncio.Protocol that sends every frame
    (uint32 LE length + bytes) back unchanged, batching the replies of one read into one write.
    This is the floor of a Node <-> Python round trip on this machine.
  - A grpc.aio server on the first address with one generic bidi-streaming method
    (/bench.Echo/Bidi) echoing each message (raw bytes, no protobuf): the other lane candidate,
    a gRPC bidi stream carrying calls as messages (one call per message, or many batched in one).

Prints `READY` on stdout once both are bound; exits when stdin reaches EOF (its host is gone).
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import threading

import grpc

_LEN = struct.Struct("<I")


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            (length,) = _LEN.unpack_from(buf, pos)
            if pos + 4 + length > n:
                break
            pos += 4 + length
        if pos:
            self.transport.write(bytes(buf[:pos]))  # type: ignore[attr-defined]
            del buf[:pos]


async def _bidi(request_iterator, context):  # type: ignore[no-untyped-def]
    async for message in request_iterator:
        yield message


def _exit_on_eof() -> None:
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


async def main(grpc_address: str, socket_path: str) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_unix_server(Echo, socket_path)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Bidi": grpc.stream_stream_rpc_method_handler(_bidi)})
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(grpc_address)
    await server.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    threading.Thread(target=_exit_on_eof, daemon=True).start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
