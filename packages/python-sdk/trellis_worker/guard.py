"""The ToolService's door: who may call the worker, and what a request that is not one gets.

Why not the generated ``add_ToolServiceServicer_to_server``:
  - **the per-run secret.** Any local user can connect to a loopback TCP port (and to a Unix
    socket whose directory lets them in). The host generates a secret per run and hands it to the
    worker in its environment (``TRELLIS_WORKER_SECRET``; never on the command line, which every
    user can read in /proc). The worker drops it from ``os.environ`` at once, so tools and their
    subprocesses do not inherit it, and refuses every call whose ``trellis-secret`` metadata does
    not match with ``UNAUTHENTICATED``. A worker started by hand (no secret) accepts any caller.
  - **malformed requests.** With the generated deserializers, bytes that are not a valid message
    end in ``UNKNOWN`` carrying protobuf's raw decode error. Here the deserializer never raises: a
    request that does not decode reaches the handler as ``Malformed`` and gets ``INVALID_ARGUMENT``
    with a short message.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from ._stubs import tool_service_pb2 as pb

SECRET_ENV = "TRELLIS_WORKER_SECRET"
SECRET_METADATA_KEY = "trellis-secret"
SERVICE = "trellis.bridge.v1.ToolService"

# method -> (request type, response type, streaming response)
_METHODS: dict[str, tuple[Any, Any, bool]] = {
    "Health": (pb.HealthRequest, pb.HealthResponse, False),
    "Ping": (pb.PingRequest, pb.PingResponse, False),
    "Describe": (pb.DescribeRequest, pb.DescribeResponse, False),
    "Execute": (pb.ExecuteRequest, pb.ExecuteResponse, False),
    "ExecuteStream": (pb.ExecuteRequest, pb.ExecuteStreamResponse, True),
    "Heartbeat": (pb.HeartbeatRequest, pb.HeartbeatResponse, False),
    "EndSession": (pb.EndSessionRequest, pb.EndSessionResponse, False),
    # Behind the secret like the rest: the lane's token (lane.py) is handed out only here.
    "OpenLane": (pb.OpenLaneRequest, pb.OpenLaneResponse, False),
}


class Malformed:
    """A request whose bytes are not a valid message of its method's type."""

    __slots__ = ("size", "type_name")

    def __init__(self, size: int, type_name: str) -> None:
        self.size = size
        self.type_name = type_name

    def message(self) -> str:
        return (
            f"malformed request: {self.size} bytes that are not a valid {self.type_name} protobuf message; "
            "send requests built from the trellis.bridge.v1 protos"
        )


def take_secret() -> bytes | None:
    """The host's secret for this worker, removed from the environment (tools must not see it)."""
    value = os.environ.pop(SECRET_ENV, None)
    return value.encode() if value else None


def _tolerant(msg_type: Any) -> Callable[[bytes], Any]:
    from_string = msg_type.FromString
    name = msg_type.DESCRIPTOR.full_name

    def deserialize(data: bytes) -> Any:
        try:
            return from_string(data)
        except (DecodeError, RuntimeError, ValueError, RecursionError):
            return Malformed(len(data), name)

    return deserialize


def _authorized(context: grpc.aio.ServicerContext, secret: bytes) -> bool:
    for key, value in context.invocation_metadata() or ():
        if key == SECRET_METADATA_KEY:
            given = value.encode() if isinstance(value, str) else value
            return hmac.compare_digest(given, secret)
    return False


_DENIED = "missing or wrong trellis-secret: this worker serves only the Trellis host that started it"


def _guard_unary(method: Callable[..., Any], secret: bytes | None) -> Callable[..., Any]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if secret is not None and not _authorized(context, secret):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, _DENIED)
        if type(request) is Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message())
        return await method(request, context)

    return handler


def _guard_stream(method: Callable[..., Any], secret: bytes | None) -> Callable[..., Any]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if secret is not None and not _authorized(context, secret):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, _DENIED)
        if type(request) is Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message())
        async for item in method(request, context):
            yield item

    return handler


def add_tool_service(server: grpc.aio.Server, servicer: Any, secret: bytes | None) -> None:
    """Registers ``servicer``'s methods on ``server`` behind the secret check and tolerant decoding."""
    handlers = {}
    for name, (req, res, streaming) in _METHODS.items():
        method = getattr(servicer, name)
        if streaming:
            handlers[name] = grpc.unary_stream_rpc_method_handler(
                _guard_stream(method, secret),
                request_deserializer=_tolerant(req),
                response_serializer=res.SerializeToString,
            )
        else:
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                _guard_unary(method, secret),
                request_deserializer=_tolerant(req),
                response_serializer=res.SerializeToString,
            )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    add_registered = getattr(server, "add_registered_method_handlers", None)
    if add_registered is not None:
        add_registered(SERVICE, handlers)
