"""Per-synapse admission: bounded concurrency, a priority queue, and load shedding.

Bittensor's Axon computes a priority and then ignores it (a no-op runs through a thread pool in
random order). Here the priority decides who runs next: while ``max_concurrency`` handlers of a
synapse are busy, new requests wait in a heap ordered by (priority desc, arrival asc), so equal
priorities are FIFO. The heap is bounded by ``max_queue``; past it the request is shed at once
with RESOURCE_EXHAUSTED, so a flood costs the miner a heap comparison, not memory or latency.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class QueueFull(Exception):
    """Every slot is busy and the queue is at its limit: shed this request."""


class _Waiter:
    __slots__ = ("future", "key")

    def __init__(self, key: tuple[float, int], future: asyncio.Future[None]) -> None:
        self.key = key
        self.future = future

    def __lt__(self, other: _Waiter) -> bool:
        return self.key < other.key


class SynapseScheduler:
    """Admission for one synapse: ``max_concurrency`` running at most, ``max_queue`` waiting.

    Use: ``try_acquire()`` (no await, the hot path) or else ``await wait(priority)``; then
    exactly one ``release()`` per slot taken. There is no context manager on purpose: the server
    sometimes hands a slot to a worker thread that outlives the request (miner/handlers.py).
    """

    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError("max_concurrency must be >= 1 and max_queue >= 0")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.running = 0
        self._heap: list[_Waiter] = []
        self._waiting = 0  # live waiters (cancelled ones may linger in the heap until popped)
        self._seq = itertools.count()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot now (the queue-depth gauge reads this)."""
        return self._waiting

    def try_acquire(self) -> bool:
        """Take a free slot now if nobody is queued ahead (the hot path: no await, no priority)."""
        if self.running < self.max_concurrency and self._waiting == 0:
            self.running += 1
            return True
        return False

    async def wait(self, priority: float) -> None:
        """Queue for a slot by priority; raises :class:`QueueFull` past ``max_queue``.

        On return the caller holds a slot and must :meth:`release` it.
        """
        if self.try_acquire():
            return
        if self._waiting >= self.max_queue:
            raise QueueFull(
                f"{self.running} running and {self._waiting} queued (limits "
                f"{self.max_concurrency}/{self.max_queue}): retry later or query another miner"
            )
        if len(self._heap) > 2 * self.max_queue + 16:
            # Drop entries of waiters that gave up, so the heap stays bounded even if no slot
            # frees up for a long time while callers keep cancelling.
            self._heap = [w for w in self._heap if not w.future.done()]
            heapq.heapify(self._heap)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter((-priority, next(self._seq)), future)
        heapq.heappush(self._heap, waiter)
        self._waiting += 1
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed to us just as we were cancelled
            else:
                future.cancel()
                self._waiting -= 1
            raise

    def release(self) -> None:
        """Hand the freed slot to the best live waiter, or give it back."""
        heap = self._heap
        while heap:
            waiter = heapq.heappop(heap)
            if waiter.future.done():  # cancelled while waiting; already uncounted
                continue
            self._waiting -= 1
            waiter.future.set_result(None)  # the slot passes over: ``running`` is unchanged
            return
        self.running -= 1
