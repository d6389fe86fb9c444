"""Past-block readers for ``bench/chain_pressure.py``, run as a process of their own.

``python bench/chain_readers.py ADDRESS BLOCK ADDR...``: one client per ``ADDR``, each on a
gRPC connection of its own (as that many remote clients would be; channels in one process
otherwise share one connection), each looping ``GetAccount(ADDR, at_block=BLOCK)`` one call
at a time. Driven over stdin/stdout so the bench can interleave slices with and without reads:

* prints ``ready`` once every client has answered one read;
* ``go`` on stdin: start reading; ``stop``: stop, let the reads in flight finish, and print
  ``<answered> <refused as busy>`` counted since the ``go`` (a refused read is retried after
  5 ms, as a polite client would); end of input: exit.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.protos.chain.v1 import chain_pb2_grpc as pb_grpc

OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
BUSY_RETRY_S = 0.005


class Readers:
    def __init__(self, address: str, block: int, who: list[str]) -> None:
        self.channels = [grpc.aio.insecure_channel(address, options=OWN_CONNECTION) for _ in who]
        self.requests = [pb.GetAccountRequest(address=w, at_block=block) for w in who]
        self.stubs = [pb_grpc.ChainStub(c) for c in self.channels]
        self.reading = asyncio.Event()
        self.closing = False
        self.in_flight = 0
        self.answered = self.refused = 0

    async def read_forever(self, stub: pb_grpc.ChainStub, request: pb.GetAccountRequest) -> None:
        while True:
            await self.reading.wait()
            if self.closing:
                return
            self.in_flight += 1
            try:
                await stub.GetAccount(request, timeout=300)
                self.answered += 1
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                self.refused += 1
                await asyncio.sleep(BUSY_RETRY_S)
            finally:
                self.in_flight -= 1

    async def stop(self) -> tuple[int, int]:
        self.reading.clear()
        for _ in range(30_000):  # bounded: reads in flight finish within 300 s deadlines
            if not self.in_flight:
                break
            await asyncio.sleep(0.01)
        counts = (self.answered, self.refused)
        self.answered = self.refused = 0
        return counts


async def main(address: str, block: int, who: list[str]) -> None:
    readers = Readers(address, block, who)
    for stub, request in zip(readers.stubs, readers.requests, strict=True):
        await stub.GetAccount(request, timeout=300)
    tasks = [
        asyncio.create_task(readers.read_forever(s, r))
        for s, r in zip(readers.stubs, readers.requests, strict=True)
    ]
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        if line == "go":
            readers.reading.set()
        elif line == "stop":
            answered, refused = await readers.stop()
            print(answered, refused, flush=True)
    await readers.stop()
    readers.closing = True
    readers.reading.set()
    await asyncio.gather(*tasks)
    for channel in readers.channels:
        await channel.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
