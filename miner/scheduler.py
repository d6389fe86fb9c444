"""Per-synapse admission: bounded concurrency, a priority queue, per-caller shares, shedding.

Bittensor's Axon computes a priority and then ignores it (a no-op runs through a thread pool in
random order). Here the priority decides who runs next: while a synapse's slots are busy, new
requests wait in a heap ordered by (priority desc, arrival asc), so equal priorities are FIFO.
The heap is bounded by ``max_queue``; past it the request is shed at once with
RESOURCE_EXHAUSTED, so a flood costs the miner a heap comparison, not memory or latency.

Two rules keep one caller from holding every slot (e.g. slow streams it never reads):

- **share**: one caller runs at most ``share`` slots at once; its further requests wait in the
  heap, where they are skipped until one of its own requests ends.
- **reserve**: the last ``max_concurrency - general`` slots go only to callers whose priority is
  above 0 (the priority hook: stake, validator permit), so a higher-priority caller gets a slot
  even while priority-0 callers hold all the others.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class QueueFull(Exception):
    """Every slot is busy and the queue is at its limit: shed this request."""


class _Waiter:
    __slots__ = ("caller", "future", "key")

    def __init__(self, key: tuple[float, int], caller: str, future: asyncio.Future[None]) -> None:
        self.key = key
        self.caller = caller
        self.future = future

    def __lt__(self, other: _Waiter) -> bool:
        return self.key < other.key


class SynapseScheduler:
    """Admission for one synapse: ``max_concurrency`` running at most, ``max_queue`` waiting,
    ``share`` per caller, ``reserved`` slots for callers with priority above 0.

    Use: ``try_acquire(caller)`` (no await, the hot path) or else ``await wait(priority,
    caller)``; then exactly one ``release(caller)`` per slot taken. There is no context manager
    on purpose: the server sometimes hands a slot to a worker thread that outlives the request
    (miner/leases.py).
    """

    def __init__(
        self, max_concurrency: int, max_queue: int, reserved: int = 0, share: int | None = None
    ) -> None:
        if max_concurrency < 1 or max_queue < 0 or not 0 <= reserved < max_concurrency:
            raise ValueError(
                "max_concurrency must be >= 1, max_queue >= 0, 0 <= reserved < max_concurrency"
            )
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        #: Slots anyone may take; the rest only callers with priority above 0.
        self.general = max_concurrency - reserved
        self.share = max(1, share if share is not None else max_concurrency)
        self.running = 0
        self._by_caller: dict[str, int] = {}  # running slots per caller; only callers with some
        self._heap: list[_Waiter] = []
        self._waiting = 0  # live waiters (cancelled ones may linger in the heap until popped)
        self._seq = itertools.count()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot now (the queue-depth gauge reads this)."""
        return self._waiting

    def held_by(self, caller: str) -> int:
        """Slots ``caller`` runs now (at most ``share``)."""
        return self._by_caller.get(caller, 0)

    def _take(self, caller: str) -> None:
        self.running += 1
        self._by_caller[caller] = self._by_caller.get(caller, 0) + 1

    def try_acquire(self, caller: str = "") -> bool:
        """Take a free slot now if nobody is queued ahead (the hot path: no await, no priority)."""
        if (
            self.running < self.general
            and self._waiting == 0
            and self._by_caller.get(caller, 0) < self.share
        ):
            self._take(caller)
            return True
        return False

    async def wait(self, priority: float, caller: str = "") -> None:
        """Queue for a slot by priority; raises :class:`QueueFull` past ``max_queue``.

        On return the caller holds a slot and must :meth:`release` it.
        """
        if self._by_caller.get(caller, 0) < self.share:
            # A free slot this caller may take. Queued waiters cannot take it (they are at their
            # share, or not privileged for a reserved slot): release() hands slots to those that
            # can.
            limit = self.max_concurrency if priority > 0 else self.general
            if self.running < limit:
                self._take(caller)
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
        waiter = _Waiter((-priority, next(self._seq)), caller, future)
        heapq.heappush(self._heap, waiter)
        self._waiting += 1
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(caller)  # the slot was handed to us just as we were cancelled
            else:
                future.cancel()
                self._waiting -= 1
            raise

    def release(self, caller: str = "") -> None:
        """Give ``caller``'s slot to the best live waiter that may take it, or give it back.

        A waiter may take it if its caller is under its share and, when more than ``general``
        slots stay busy, only if its priority is above 0 (the slot is a reserved one). Waiters
        skipped for their share stay queued in their order.
        """
        left = self._by_caller.get(caller, 1) - 1
        if left <= 0:
            self._by_caller.pop(caller, None)
        else:
            self._by_caller[caller] = left
        heap, skipped = self._heap, []
        chosen: _Waiter | None = None
        reserved_slot = self.running > self.general
        while heap:
            waiter = heap[0]
            if waiter.future.done():  # cancelled while waiting; already uncounted
                heapq.heappop(heap)
                continue
            if reserved_slot and waiter.key[0] >= 0:
                break  # the best waiter left is not privileged: nobody below it is either
            heapq.heappop(heap)
            if self._by_caller.get(waiter.caller, 0) >= self.share:
                skipped.append(waiter)
                continue
            chosen = waiter
            break
        for waiter in skipped:
            heapq.heappush(heap, waiter)
        if chosen is None:
            self.running -= 1
            return
        self._waiting -= 1
        self._by_caller[chosen.caller] = self._by_caller.get(chosen.caller, 0) + 1
        chosen.future.set_result(None)  # the slot passes over: ``running`` is unchanged
