"""``MetagraphSync``: keep one subnet's metagraph fresh by following the chain's blocks.

A neuron needs a recent metagraph (who is registered, who serves where, stakes, permits) but
fetching it in a loop wastes the chain's time, and fetching it on a wall-clock timer is either
stale or wasteful. This follows ``StreamBlocks`` instead and refreshes the snapshot only when a
block touches the subnet (registration, replacement, a served endpoint, an epoch, a stake or
hyperparameter change) or, failing that, every ``refresh_blocks`` blocks. Each refresh is one
RPC. Subscribers get ``(old, new, diff)`` after every refresh, so a validator resets the scores
of replaced hotkeys the moment the chain replaces them.

If the stream breaks (chain restart), it reconnects from the next block it has not seen, with
backoff; the last good metagraph stays available meanwhile.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable

from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import Metagraph, MetagraphDiff, diff
from subnetkit.core.errors import ChainError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

log = logging.getLogger(__name__)

Subscriber = Callable[[Metagraph, Metagraph, MetagraphDiff], "Awaitable[None] | None"]

#: event names that change what a neuron reads from the metagraph
_SUBNET_EVENTS = frozenset(
    {
        "NeuronRegistered",
        "NeuronReplaced",
        "AxonServed",
        "EpochRun",
        "StakeAdded",
        "StakeRemoved",
        "HyperparameterSet",
        "WeightsSet",
        "WeightsRevealed",
    }
)


def touches_subnet(block: pb.Block, netuid: int) -> bool:
    """Whether any event of ``block`` concerns ``netuid`` in a way the metagraph shows."""
    for event in block.events:
        if event.name not in _SUBNET_EVENTS:
            continue
        try:
            data = json.loads(event.data_json)
        except ValueError:
            return True  # unreadable: refresh rather than miss a change
        if data.get("netuid") == netuid:
            return True
    return False


class MetagraphSync:
    """Follows blocks, holds the latest :class:`Metagraph` of ``netuid``, publishes diffs.

    Call :meth:`refresh` once before use (startup fails fast if the subnet does not exist),
    then run :meth:`run` as a background task. ``refresh_blocks`` bounds staleness when nothing
    happens on the subnet (default: once per epoch, from the subnet's tempo).
    """

    def __init__(
        self,
        client: ChainClient,
        netuid: int,
        *,
        refresh_blocks: int | None = None,
        with_weights: bool = False,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
    ) -> None:
        self.client = client
        self.netuid = netuid
        self.with_weights = with_weights
        self._refresh_blocks = refresh_blocks
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._metagraph: Metagraph | None = None
        self._subscribers: list[Subscriber] = []
        self._head = 0
        self._head_changed = asyncio.Condition()
        self._refresh_lock = asyncio.Lock()
        self.refreshes = 0
        self.reconnects = 0
        #: times the block stream broke (a waiter on this connection's state can give up)
        self.breaks = 0

    # -- reading ---------------------------------------------------------------------------------
    @property
    def metagraph(self) -> Metagraph:
        if self._metagraph is None:
            raise RuntimeError("MetagraphSync.refresh() has not run yet")
        return self._metagraph

    @property
    def head(self) -> int:
        """The newest block number seen (from the stream, or the last refresh)."""
        return self._head

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(old, new, diff)`` (sync or async) after each refresh."""
        self._subscribers.append(callback)

    async def wait_for_head(self, above: int) -> int:
        """Wait until a block newer than ``above`` has been seen; returns the new head."""
        async with self._head_changed:
            await self._head_changed.wait_for(lambda: self._head > above)
            return self._head

    async def wait_for_change(self, head: int, breaks: int) -> None:
        """Wait until a block newer than ``head`` is seen or the stream breaks again after
        ``breaks`` breaks (an inclusion wait ends at either, never on a wall clock)."""
        async with self._head_changed:
            await self._head_changed.wait_for(lambda: self._head > head or self.breaks != breaks)

    # -- refreshing ------------------------------------------------------------------------------
    async def refresh(self) -> MetagraphDiff | None:
        """Fetch the metagraph now; notify subscribers. Returns the diff (None the first time)."""
        async with self._refresh_lock:
            new = await self.client.metagraph(self.netuid, self.with_weights)
            old, self._metagraph = self._metagraph, new
            self.refreshes += 1
            await self._advance(new.block)
            if old is None:
                return None
            change = diff(old, new)
            for callback in list(self._subscribers):
                result = callback(old, new, change)
                if inspect.isawaitable(result):
                    await result
            return change

    async def _advance(self, block: int) -> None:
        if block > self._head:
            async with self._head_changed:
                self._head = block
                self._head_changed.notify_all()

    def _interval(self) -> int:
        if self._refresh_blocks is not None:
            return max(1, self._refresh_blocks)
        tempo = self._metagraph.tempo if self._metagraph is not None else 0
        return max(1, tempo + 1) if tempo > 0 else 100

    # -- following -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow the chain until cancelled. Reconnects after stream errors."""
        delay = self._reconnect_delay
        last_refresh = self._metagraph.block if self._metagraph is not None else 0
        broken_since: float | None = None
        while True:
            try:
                async for block in self.client.stream_blocks(from_block=self._head + 1):
                    delay = self._reconnect_delay
                    if broken_since is not None:
                        log.info(
                            "block stream from %s reconnected after %.1f s, at block %d",
                            self.client.address,
                            time.monotonic() - broken_since,
                            int(block.header.number),
                        )
                        self.reconnects += 1
                        broken_since = None
                    number = int(block.header.number)
                    if (
                        touches_subnet(block, self.netuid)
                        or number - last_refresh >= self._interval()
                    ):
                        await self.refresh()
                        last_refresh = number
                    await self._advance(number)
            except ChainError as exc:
                if broken_since is None:
                    broken_since = time.monotonic()
                    async with self._head_changed:
                        self.breaks += 1
                        self._head_changed.notify_all()
                log.warning(
                    "block stream from %s broke (%s: %s); reconnecting in %.1fs",
                    self.client.address,
                    exc.code,
                    exc.message,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_reconnect_delay)


__all__ = ["MetagraphSync", "touches_subnet"]
