"""One writer per session stream side, sending whatever queued as one message.

gRPC takes one write at a time on a call, and each write has a fixed cost (framing, the
transport, a wake-up on the other side) that is most of a small request's. A
:class:`BatchWriter` owns the call's writes: senders ``put`` and return at once, and the writer
task sends everything that queued while its previous write was in flight as one message. An
idle stream sends each item as soon as it is put; a busy one pays the write once per batch.
Batches are bounded by item count and bytes, so one message never exceeds what the other side
accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import grpc

T = TypeVar("T")

#: what grpc.aio raises on a write to a call that is already over
CALL_OVER: tuple[type[BaseException], ...] = (
    grpc.aio.AioRpcError,
    grpc.aio.UsageError,
    grpc.aio.InternalError,
    asyncio.InvalidStateError,
)


class BatchWriter(Generic[T]):
    """Queues items and writes them in batches from one task (:meth:`run`).

    ``write`` sends one encoded message, ``encode`` turns a batch into its bytes, ``size``
    estimates an item's encoded size. A batch holds at most ``max_items`` items and, past its
    first item, at most ``max_bytes``. ``finish`` runs once everything put before :meth:`close`
    is written (a client half-closes there).
    """

    def __init__(
        self,
        write: Callable[[bytes], Awaitable[object]],
        encode: Callable[[list[T]], bytes],
        size: Callable[[T], int],
        *,
        max_items: int = 256,
        max_bytes: int = 1024 * 1024,
        finish: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._write = write
        self._encode = encode
        self._size = size
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._finish = finish
        self._items: list[T] = []
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.closed = False  # no more puts
        self.broken = False  # a write failed: the call is over

    def __len__(self) -> int:
        """Items queued and not yet handed to a write."""
        return len(self._items)

    def put(self, item: T) -> bool:
        """Queue ``item``; False (not queued) once closed or broken."""
        if self.closed or self.broken:
            return False
        self._items.append(item)
        self._ready.set()
        return True

    def close(self) -> None:
        """Take no more items; :meth:`run` writes what is queued, runs ``finish`` and returns."""
        self.closed = True
        self._ready.set()

    async def room(self, limit: int) -> None:
        """Wait until fewer than ``limit`` items are queued (a reader's backpressure: answers
        the other side does not read must not pile up here)."""
        while len(self._items) >= limit and not self.broken:
            self._drained.clear()
            await self._drained.wait()

    async def run(self) -> None:
        """Write batches until closed and drained, or until a write fails."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._items:
                    batch = self._take()
                    self._drained.set()
                    await self._write(self._encode(batch))
                if self.closed:
                    if self._finish is not None:
                        await self._finish()
                    return
        except CALL_OVER:
            self.broken = True
        finally:
            self._items.clear()
            self._drained.set()

    def _take(self) -> list[T]:
        items = self._items
        total, count = 0, 0
        for item in items:
            total += self._size(item)
            if count and (count >= self.max_items or total > self.max_bytes):
                break
            count += 1
        batch, self._items = items[:count], items[count:]
        return batch


async def stop(task: asyncio.Task[None], timeout: float = 5.0) -> None:
    """Wait (bounded) for a writer's task that was told to close; cancel it past ``timeout``."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), timeout)
    if not task.done():
        task.cancel()
