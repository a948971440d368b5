"""The generated protobuf/gRPC modules, with a clear error when they have not been generated."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded lazily at run time (__getattr__ below); typed as the real modules
    from ._proto.trellis.bridge.v1 import host_service_pb2 as host_service_pb2
    from ._proto.trellis.bridge.v1 import host_service_pb2_grpc as host_service_pb2_grpc

try:
    from ._proto.trellis.bridge.v1 import (
        common_pb2,
        lane_pb2,
        tool_service_pb2,
        tool_service_pb2_grpc,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install step
    raise ImportError(
        "trellis_worker's generated gRPC stubs are missing (trellis_worker/_proto). "
        "Run `pnpm install` in the Trellis repo, or `node scripts/gen-python-stubs.mjs`, to generate them."
    ) from exc

__all__ = [  # plus host_service_pb2 and host_service_pb2_grpc, loaded on first use
    "common_pb2",
    "lane_pb2",
    "tool_service_pb2",
    "tool_service_pb2_grpc",
]


def __getattr__(name: str) -> object:
    # The HostService stubs load on first use: only workers started with --host-address need them.
    if name in ("host_service_pb2", "host_service_pb2_grpc"):
        import importlib

        module = importlib.import_module(f"._proto.trellis.bridge.v1.{name}", __package__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
