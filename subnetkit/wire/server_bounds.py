"""What every gRPC server of ours bounds before any handler runs: connections and health watchers.

Shared by the miner's server and a validator's certificate endpoint (``validator.identity``): both
face hostile peers, so both take the same connection-level bounds (enforced by gRPC core) and the
same capped health service.

Each health ``Watch`` holds a stream open for as long as the caller likes; without a bound,
anyone can open them until the server's memory and file handles run out. Past ``max_watchers``
open at once (all callers together), a new ``Watch`` is refused with RESOURCE_EXHAUSTED;
``Check`` is a unary call and stays unbounded.
"""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2


class BoundedHealthServicer(health.aio.HealthServicer):
    """grpcio-health-checking's aio servicer, ``Watch`` capped at ``max_watchers`` streams."""

    def __init__(self, max_watchers: int) -> None:
        super().__init__()
        self.max_watchers = max_watchers
        self.watchers = 0

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        if self.watchers >= self.max_watchers:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{self.watchers} health Watch streams are open here (limit "
                f"{self.max_watchers}): poll with Check, or close a Watch first",
            )
        self.watchers += 1
        try:
            await super().Watch(request, context)
        finally:
            self.watchers -= 1


def connection_options(
    *,
    max_receive_bytes: int,
    max_send_bytes: int,
    max_streams_per_connection: int,
    max_connections: int,
    max_connection_idle_s: float,
    max_connection_age_s: float,
    connection_age_grace_s: float,
    handshake_timeout_s: float,
    keepalive_min_interval_s: float,
    max_ping_strikes: int,
    max_metadata_bytes: int,
) -> list[tuple[str, int]]:
    """gRPC server channel arguments for connection-level bounds (docs/protocol.md,
    "Connection limits"): all enforced by gRPC core, before any of our Python runs."""
    ms = 1000
    return [
        ("grpc.max_receive_message_length", max_receive_bytes),
        ("grpc.max_send_message_length", max_send_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.max_concurrent_streams", max_streams_per_connection),
        # Off: it counts streams not yet freed toward the limit, so an honest client with
        # more calls in flight than the limit got REFUSED_STREAM under churn (measured: a
        # MinerClient at concurrency 256). The advertised limit still holds: clients queue.
        ("grpc.http.overload_protection", 0),
        ("grpc.max_allowed_incoming_connections", max_connections),
        ("grpc.max_connection_idle_ms", int(max_connection_idle_s * ms)),
        ("grpc.max_connection_age_ms", int(max_connection_age_s * ms)),
        ("grpc.max_connection_age_grace_ms", int(connection_age_grace_s * ms)),
        ("grpc.server_handshake_timeout_ms", int(handshake_timeout_s * ms)),
        ("grpc.keepalive_permit_without_calls", 1),
        # gRPC core's name for the *received* ping interval a server enforces.
        ("grpc.http2.min_ping_interval_without_data_ms", int(keepalive_min_interval_s * ms)),
        ("grpc.http2.max_ping_strikes", max_ping_strikes),
        ("grpc.max_metadata_size", max_metadata_bytes),
        ("grpc.absolute_max_metadata_size", max_metadata_bytes),
    ]


__all__ = ["BoundedHealthServicer", "connection_options"]
