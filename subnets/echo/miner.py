"""The echo miner: the smallest complete subnet miner, and a template to copy.

A subnet is a ``.proto`` service (``subnets/echo/echo.proto``) plus a ``Miner`` subclass with one
method per RPC, named like the RPC; the server refuses to start if one is missing. Signatures,
freshness, replays, blacklist, priority, limits, deadlines and signing the response all happen
in ``MinerServer`` around these methods: a handler only ever sees a verified caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from subnetkit.miner import CallContext, Miner
from subnetkit.subnets.echo import echo_pb2


class EchoMiner(Miner):
    # The service this miner implements: the generated module and the service's name.
    service = (echo_pb2, "Echo")

    # `async def` runs on the event loop (keep it non-blocking); a plain `def` would run in a
    # worker thread (torch/CPU work). `context.caller` is the verified caller's hotkey and
    # `context.time_remaining()` what is left of its deadline. Raising sends INTERNAL.
    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(text=request.text, payload=request.payload)

    # A server-streaming RPC is a generator; the miner signs the hash chain of its chunks.
    async def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> AsyncIterator[echo_pb2.EchoChunk]:
        for index in range(request.count):
            yield echo_pb2.EchoChunk(text=request.text, index=index)
            await asyncio.sleep(0)  # let other requests run between chunks

    # Optional hooks: blacklist(caller) -> reason | None, priority(caller) -> float.
