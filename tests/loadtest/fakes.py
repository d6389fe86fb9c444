"""A subnet for harness tests: echo with a known service time, and one that stalls once.

``SUBNET`` is loaded by import string (``tests.loadtest.fakes:SUBNET``) the way a user names their
own subnet to ``subnetkit loadtest --subnet``; its variants pick the behaviour.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from subnetkit.core.subnet_spec import SubnetSpec
from subnetkit.miner import CallContext
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner

DELAY_S = 0.200  # long enough that scheduler jitter on a busy machine stays inside 5%
STALL_AFTER_S = 0.5
STALL_S = 1.0
#: How long each delayed answer really took inside the handler (the last 1000): on a busy
#: machine a 200 ms sleep can take longer, and that longer time is what the harness must see.
SERVED_S: collections.deque[float] = collections.deque(maxlen=1000)


class TimedMiner(EchoMiner):
    """Echo after exactly ``delay`` seconds (variant ``zero``: at once; ``delay``: DELAY_S)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    @classmethod
    def from_settings(cls, settings: Any, variant: str | None = None) -> TimedMiner:
        if variant == "stall":
            return StallingMiner()
        return cls(DELAY_S if variant == "delay" else 0.0)

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        if self.delay:
            started = time.perf_counter()
            await asyncio.sleep(self.delay)
            SERVED_S.append(time.perf_counter() - started)
        return echo_pb2.EchoResponse(text=request.text)


class StallingMiner(TimedMiner):
    """Answers at once, except that STALL_AFTER_S into its life it stops answering for STALL_S:
    every request that arrives meanwhile waits until the stall ends (a GC pause, a lock)."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.born = time.monotonic()

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        stall_from = self.born + STALL_AFTER_S
        now = time.monotonic()
        if stall_from <= now < stall_from + STALL_S:
            await asyncio.sleep(stall_from + STALL_S - now)
        return echo_pb2.EchoResponse(text=request.text)


SUBNET = SubnetSpec(
    name="timed-echo",
    miner="tests.loadtest.fakes:TimedMiner",
    validator="subnetkit.subnets.echo.validator:EchoValidator",
    variants=("zero", "delay", "stall"),
)
