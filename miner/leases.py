"""Per-caller limits and handler slots: each admitted request holds one :class:`Lease`.

A lease counts its request against its caller (``Limits.max_per_caller`` across all synapses)
and, once entered, holds one slot of its synapse's :class:`SynapseScheduler`. Both are given
back exactly once, even when a worker thread outlives the request that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import grpc

from subnetkit.miner.base import BoundSynapse
from subnetkit.miner.limits import refusal
from subnetkit.miner.scheduler import QueueFull, SynapseScheduler

log = logging.getLogger(__name__)

PriorityHook = Callable[[str], "float | Awaitable[float]"]


class Lease:
    """One admitted request's claim: its per-caller count and, once entered, its handler slot.

    Released exactly once. A plain ``def`` handler's thread cannot be cancelled, so when the
    request ends while that thread still runs, :meth:`hand_over` passes the lease to the thread:
    it is released when the thread's work is done, on the event loop's thread.
    """

    __slots__ = ("_counts", "_held", "caller", "entered", "sched")

    def __init__(self, sched: SynapseScheduler, counts: dict[str, int], caller: str) -> None:
        self.sched = sched
        self.caller = caller
        self.entered = False  # holds a scheduler slot
        self._counts = counts
        self._held = True

    def release(self) -> None:
        """Give back the slot and the caller's count, unless a worker thread holds them."""
        if self._held:
            self._held = False
            self._free()

    def hand_over(self, work: Future[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Keep the slot and count until ``work`` (running in a worker thread) completes."""
        if not self._held:
            return
        self._held = False

        def done(_: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed: server and counters gone
                loop.call_soon_threadsafe(self._free)

        work.add_done_callback(done)

    def _free(self) -> None:
        if self.entered:
            self.sched.release(self.caller)
        count = self._counts.get(self.caller, 1) - 1
        if count <= 0:
            self._counts.pop(self.caller, None)
        else:
            self._counts[self.caller] = count


class Leases:
    """Hands out leases: one scheduler per synapse path, one request count per caller.

    ``counts`` holds only callers with a request queued or running, so it is bounded by the
    requests in flight, not by how many callers ever came.
    """

    def __init__(self, schedulers: dict[str, SynapseScheduler], max_per_caller: int) -> None:
        self.schedulers = schedulers
        self.max_per_caller = max_per_caller
        self.counts: dict[str, int] = {}

    def take(self, bound: BoundSynapse, caller: str) -> Lease:
        """Per-caller limit (step 7): count the request against its caller, or shed it."""
        count = self.counts.get(caller, 0)
        if count >= self.max_per_caller:
            raise refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"caller {caller} already has {count} requests here (limit "
                f"{self.max_per_caller}): lower the client's concurrency",
            )
        self.counts[caller] = count + 1
        return Lease(self.schedulers[bound.spec.path], self.counts, caller)

    @staticmethod
    def try_enter(lease: Lease) -> bool:
        """Take a free handler slot without waiting (no coroutine: the common, uncontended
        case); False when the request must queue through :meth:`enter`."""
        if lease.sched.try_acquire(lease.caller):
            lease.entered = True
            return True
        return False

    async def enter(self, bound: BoundSynapse, lease: Lease, priority: PriorityHook) -> None:
        """Take a handler slot: at once if one is free, else queued by the priority hook."""
        sched = lease.sched
        if not sched.try_acquire(lease.caller):
            try:
                await sched.wait(await _call_priority(priority, lease.caller), lease.caller)
            except QueueFull as exc:
                raise refusal(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"{bound.spec.name} is saturated: {exc}"
                ) from None
        lease.entered = True


async def _call_priority(priority: PriorityHook, caller: str) -> float:
    """The caller's priority; a failing hook is logged and counts as 0, never fails the request."""
    try:
        value = priority(caller)
        if inspect.isawaitable(value):
            value = await value
        return float(value)
    except Exception:
        log.exception("priority hook failed for %s; using priority 0", caller)
        return 0.0
