"""The standard health service with a bound on open ``Watch`` streams.

Each ``Watch`` holds a stream open for as long as the caller likes; without a bound, anyone can
open them until the server's memory and file handles run out. Past ``max_watchers`` open at
once (all callers together), a new ``Watch`` is refused with RESOURCE_EXHAUSTED; ``Check`` is
a unary call and stays unbounded.
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
