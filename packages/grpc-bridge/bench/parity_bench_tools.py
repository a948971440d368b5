"""Tools of the parity benchmarks: host-tool round trips timed inside Python."""

from __future__ import annotations

import statistics
import time
from typing import Any

import grpc
from trellis_worker import ToolContext, tool
from trellis_worker._stubs import common_pb2, host_service_pb2, host_service_pb2_grpc


@tool
async def echo(value: Any = None) -> Any:
    """Return the argument unchanged."""
    return value


@tool
async def host_rtt(ctx: ToolContext, n: int, value: str, raw_address: str = "") -> float:
    """Median round trip (µs) of n host calls: through ctx.call_host_tool("echo"), or, with
    raw_address, a bare grpc.aio stub calling a raw grpc-js server's CallHostTool (the baseline)."""
    lat: list[float] = []
    if raw_address:
        channel = grpc.aio.insecure_channel(raw_address)
        stub = host_service_pb2_grpc.HostServiceStub(channel)
        import json

        payload = common_pb2.Payload(data=json.dumps({"value": value}).encode(), content_type="application/json")
        for _ in range(n):
            t = time.perf_counter()
            await stub.CallHostTool(host_service_pb2.CallHostToolRequest(tool="echo", payload=payload))
            lat.append(time.perf_counter() - t)
        await channel.close()
    else:
        for _ in range(n):
            t = time.perf_counter()
            await ctx.call_host_tool("echo", {"value": value})
            lat.append(time.perf_counter() - t)
    return statistics.median(lat) * 1e6
