"""Miners with scripted behaviour for failure-path tests (bounded waits: subnetkit.testing)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

from subnetkit.miner import CallContext, Miner
from subnetkit.subnets.echo import echo_pb2


class ScriptedMiner(Miner):
    """Echo service whose behaviour is chosen by the request text (for failure-path tests).

    ``raise`` -> the handler raises; ``sleep`` -> sleeps until cancelled (records it);
    ``block`` -> waits for ``gate``; ``thread`` -> reports the thread it ran in.
    """

    service = (echo_pb2, "Echo")

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.served: list[str] = []
        self.started: list[str] = []

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        self.started.append(request.text)
        if request.text == "raise":
            raise RuntimeError("secret internal detail")
        if request.text == "sleep":
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if request.text.startswith("block"):
            await self.gate.wait()
        if request.text == "wrong-type":
            return echo_pb2.EchoChunk(text="x")  # type: ignore[return-value]
        self.served.append(request.text)
        return echo_pb2.EchoResponse(text=request.text, payload=context.caller.encode())

    async def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> AsyncIterator[echo_pb2.EchoChunk]:
        for index in range(request.count):
            if request.text == "raise" and index == 1:
                raise RuntimeError("stream broke")
            yield echo_pb2.EchoChunk(text=request.text, index=index)


class ThreadedMiner(Miner):
    """Plain ``def`` handlers: they must run in a worker thread, not on the event loop."""

    service = (echo_pb2, "Echo")

    def Echo(self, request: echo_pb2.EchoRequest, context: CallContext) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(text=threading.current_thread().name)

    def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> Iterator[echo_pb2.EchoChunk]:
        for index in range(request.count):
            yield echo_pb2.EchoChunk(text=threading.current_thread().name, index=index)


class BlockingThreadMiner(Miner):
    """Plain ``def`` handlers that block their worker thread until ``release`` is set.

    Stands in for CPU-bound or blocking work that cannot be cancelled: the thread runs on after
    the caller's deadline, so its slot must stay taken until it returns.
    """

    service = (echo_pb2, "Echo")

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.finished = 0
        self.closed = 0  # streams whose generator was closed (its finally ran)

    def _block(self) -> None:
        with self.lock:
            self.running += 1
        self.release.wait(30)
        with self.lock:
            self.running -= 1
            self.finished += 1

    def Echo(self, request: echo_pb2.EchoRequest, context: CallContext) -> echo_pb2.EchoResponse:
        if request.text.startswith("block"):
            self._block()
        return echo_pb2.EchoResponse(text=request.text)

    def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> Iterator[echo_pb2.EchoChunk]:
        try:
            for index in range(request.count):
                if request.text.startswith("block") and index == 1:
                    self._block()
                yield echo_pb2.EchoChunk(text=request.text, index=index)
        finally:
            with self.lock:
                self.closed += 1
