"""Drives a :class:`~subnetkit.loadtest.schedule.LoadPlan` and records every outcome.

``send`` is one request (or one validator round): it returns one ``(status, message)`` per miner
asked, ``("OK", "")`` for an answer whose signature verified. The engine only decides *when* to
call it:

* open model: a scheduler walks the plan's send offsets, sleeping until each; a request whose
  time has come goes out at once even if earlier ones have not answered (each is its own task),
  and its latency is counted from its scheduled time. When ``max_inflight`` requests are already
  out, the next one is *dropped* and counted (k6's dropped iterations), never sent late;
* closed model: ``concurrency`` workers each send, wait, and send again; latency is from the
  actual send (a closed loop cannot see what it did not send: read it as service time).

Times come from ``time.perf_counter`` (sub-microsecond), not the loop's clock: uvloop's clock
ticks in milliseconds, too coarse for in-process latencies.

Every wait is bounded: the run stops at the planned duration (or when ``stop`` is set), then
waits at most the request timeout plus a second for what is still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from subnetkit.loadtest.recorder import Recorder
from subnetkit.loadtest.schedule import LoadPlan

Outcome = list[tuple[str, str]]
Send = Callable[[], Awaitable[Outcome]]


class Engine:
    """One run of ``plan`` through ``send`` into ``recorder`` (see the module docstring)."""

    def __init__(self, plan: LoadPlan, send: Send, recorder: Recorder) -> None:
        self.plan = plan
        self.send = send
        self.recorder = recorder
        self.started_at: float | None = None  # loop time of the first scheduled send
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self, stop: asyncio.Event | None = None) -> str:
        """Apply the load; returns the end reason: ``normal`` or ``interrupted``."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        self.started_at = time.perf_counter()
        if self.plan.is_open:
            await self._open(loop, stop)
        else:
            await self._closed(loop, stop)
        await self._drain()
        return "interrupted" if stop.is_set() else "normal"

    async def _one(self, scheduled: float) -> None:
        sent = time.perf_counter()
        self.recorder.sent += 1
        try:
            outcome = await self.send()
        except asyncio.CancelledError:
            outcome = [("CANCELLED", "the run ended before the answer came")]
            self._record(scheduled, sent, time.perf_counter(), outcome)
            raise
        self._record(scheduled, sent, time.perf_counter(), outcome)

    def _record(self, scheduled: float, sent: float, done: float, outcome: Outcome) -> None:
        assert self.started_at is not None
        rec = self.recorder
        rec.record(self.started_at, scheduled, sent, done, [status for status, _ in outcome])
        for status, message in outcome:
            if status != "OK":
                rec.note_error(status, message)

    async def _open(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        assert self.started_at is not None
        t0, rec, cap = self.started_at, self.recorder, self.plan.max_inflight
        for offset in self.plan.schedule().offsets():
            at = t0 + offset
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                return
            rec.scheduled += 1
            if len(self._inflight) >= cap:
                rec.dropped += 1
                continue
            task = loop.create_task(self._one(at))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _closed(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        assert self.started_at is not None
        end = self.started_at + self.plan.duration_s

        async def worker() -> None:
            while not stop.is_set() and time.perf_counter() < end:
                self.recorder.scheduled += 1
                await self._one(time.perf_counter())

        workers = [loop.create_task(worker()) for _ in range(self.plan.concurrency)]
        self._inflight.update(workers)
        for task in workers:
            task.add_done_callback(self._inflight.discard)
        stopper = loop.create_task(stop.wait())
        try:
            await asyncio.wait([*workers, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not stop.is_set():
                await asyncio.wait(workers, timeout=self.plan.timeout_s + 1.0)
        finally:
            stopper.cancel()

    async def _drain(self) -> None:
        """Wait (bounded) for requests still out, then cancel what remains."""
        pending = set(self._inflight)
        if pending:
            await asyncio.wait(pending, timeout=self.plan.timeout_s + 1.0)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["Engine", "Outcome", "Send"]
