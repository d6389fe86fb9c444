"""The echo miner: the smallest complete subnet miner, and a template to copy.

A subnet is a ``.proto`` service (here ``subnets/echo/echo.proto``) plus a ``Miner`` subclass
that implements each RPC as a method with the same name. That is all the glue there is: the
server reads the service descriptor, finds these methods, and refuses to start if one is missing.

Everything security-related (signature checks, freshness, replay, blacklist, priority, limits,
signing the response) happens in ``miner.MinerServer`` before and after your method runs, so a
handler only ever sees requests from a verified caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from subnetkit.miner import CallContext, Miner
from subnetkit.subnets.echo import echo_pb2


class EchoMiner(Miner):
    # 1. Name the service this miner implements. The descriptor comes from the generated module
    #    (compile with `subnetkit proto compile subnets/echo/echo.proto`).
    service = echo_pb2.DESCRIPTOR.services_by_name["Echo"]

    # 2. One method per RPC, named exactly like the RPC. `async def` runs on the event loop: keep
    #    it non-blocking. A plain `def` would run in a worker thread (use that for torch/CPU work).
    #    `request` is the parsed request message; `context` tells you who asked (context.caller,
    #    already verified) and how long they will wait (context.time_remaining()).
    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        # Return the response message. Raising an exception sends INTERNAL to the caller (the
        # traceback stays in this miner's log); running past the caller's deadline cancels this
        # coroutine and sends DEADLINE_EXCEEDED.
        return echo_pb2.EchoResponse(text=request.text, payload=request.payload)

    # 3. A server-streaming RPC is a generator: yield response messages one by one. Each chunk is
    #    folded into a hash chain and the miner signs the chain in the trailing metadata.
    async def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> AsyncIterator[echo_pb2.EchoChunk]:
        for index in range(request.count):
            yield echo_pb2.EchoChunk(text=request.text, index=index)
            await asyncio.sleep(0)  # let other requests run between chunks

    # 4. Optional hooks (override here, or pass blacklist=/priority= to MinerServer):
    #    def blacklist(self, caller: str) -> str | None: return a reason to refuse, or None.
    #    def priority(self, caller: str) -> float: higher is served first when requests queue.
