"""Reads get a bounded share of the chain; block production gets priority.

The chain is one process: reads and blocks share its event loop and its GIL. With nothing to
hold them back, 32 clients looping a past-block query cut the block rate to a fifth of its solo
rate: every step of a block (the submission RPC, the worker thread, each SQLite call of the
commit) waited behind read callbacks. So every state query passes through here:

* **admission** (:meth:`ReadShare.admit`): a caller (one gRPC connection: the peer address and
  port the server sees) may have at most :data:`PER_CALLER` queries in flight, the chain at
  most :data:`MAX_IN_FLIGHT`; past either, the query is refused at once with ``busy``
  (RESOURCE_EXHAUSTED) rather than queued without bound. One flooding connection is refused
  while other callers' reads still go through. (Queries are unsigned, so there is no key to
  count by; a client opening many connections meets the chain-wide cap.)
* **turns** (:meth:`ReadShare.turn`): at most :data:`RUNNING` queries of each kind (live head
  state, stored state) run at once; the rest wait, which costs nothing. While blocks are being
  made (a write within the last :data:`BUSY_WINDOW_S`), reads may hold at most :data:`SHARE`
  of the time: after a read that ran ``d`` seconds, the next may start ``d * (1 - SHARE) /
  SHARE`` later (a read's charge is capped at :data:`MAX_WAIT_S`, so no read waits longer).
  With the chain idle, reads run back to back.
* **pacing** (:meth:`ReadShare.pace`): a stored-state read running while a block is built
  sleeps :data:`PAUSE_S` after every :data:`BURST_S` of work, handing the GIL to the builder
  (SQLite releases it by itself; decoding rows and building the answer do not).

Reads always progress: nothing here waits for a block to finish. ``bench/chain.py --only
pressure`` measures the block rate with 32 past-block readers against its solo rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

from subnetkit.chain.errors import chain_error

#: queries one caller (one connection) may have in flight, running or waiting
PER_CALLER = 8
#: queries in flight on the whole chain
MAX_IN_FLIGHT = 64
#: queries of one kind (live head state, stored state) running at once
RUNNING = 2
#: the share of the time reads may hold while blocks are being made
SHARE = 0.2
#: blocks count as "being made" this long after the last write work ended
BUSY_WINDOW_S = 1.0
#: the longest a read waits for the share (a long read's charge is capped at this)
MAX_WAIT_S = 0.25
#: while a block is built, a stored-state read works at most this long between pauses ...
BURST_S = 0.0005
#: ... and then sleeps this long
PAUSE_S = 0.002
#: a caller named in a refusal is cut to this many characters (the peer string is theirs)
_NAME_CHARS = 64


class ReadShare:
    """Admission, turns and pacing of the chain's state queries (see the module docstring)."""

    def __init__(
        self, per_caller: int = PER_CALLER, max_in_flight: int = MAX_IN_FLIGHT, share: float = SHARE
    ) -> None:
        self.per_caller = per_caller
        self.max_in_flight = max_in_flight
        #: reads' share of the time while blocks are being made; 1.0 lifts it (and the pacing)
        self.share = share
        self.in_flight = 0
        self._by_caller: dict[str, int] = {}
        self._places = {"live": asyncio.Semaphore(RUNNING), "store": asyncio.Semaphore(RUNNING)}
        #: write work in progress (submissions being verified, a block being built)
        self._writing = 0
        self._last_write = -BUSY_WINDOW_S
        #: while busy, the earliest moment the next read may start
        self._next_start = 0.0
        self._local = threading.local()

    # -- admission (on the event loop) ---------------------------------------------------------
    @contextlib.contextmanager
    def admit(self, caller: str) -> Iterator[None]:
        """Count one query of ``caller`` in flight for the ``with`` body, or refuse it."""
        mine = self._by_caller.get(caller, 0)
        if mine >= self.per_caller:
            raise chain_error(
                "busy",
                f"this connection ({caller[:_NAME_CHARS]}) already has {mine} queries in flight, "
                "the most one caller may have; wait for their answers before sending more",
            )
        if self.in_flight >= self.max_in_flight:
            raise chain_error(
                "busy",
                f"{self.in_flight} queries are in flight (the most this chain serves at once); "
                "retry shortly",
            )
        self._by_caller[caller] = mine + 1
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            left = self._by_caller[caller] - 1
            if left:
                self._by_caller[caller] = left
            else:
                del self._by_caller[caller]

    # -- priority ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Mark write work in progress for the ``with`` body (reads give way meanwhile)."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1
            self._last_write = time.monotonic()

    def busy(self) -> bool:
        """Blocks are being made: write work now, or within the last ``BUSY_WINDOW_S``."""
        return bool(self._writing) or time.monotonic() - self._last_write < BUSY_WINDOW_S

    @contextlib.asynccontextmanager
    async def turn(self, kind: str) -> AsyncIterator[None]:
        """A running place for a query of ``kind`` ("live" or "store"), and while blocks are
        being made, the read's share of the time."""
        async with self._places[kind]:
            if self.share >= 1.0:
                yield
                return
            if self.busy():
                wait = min(self._next_start - time.monotonic(), MAX_WAIT_S)
                if wait > 0:
                    await asyncio.sleep(wait)
            started = time.monotonic()
            try:
                yield
            finally:
                now = time.monotonic()
                charge = min((now - started) * (1 - self.share) / self.share, MAX_WAIT_S)
                self._next_start = min(max(self._next_start, now) + charge, now + MAX_WAIT_S)

    # -- pacing (on reader threads) ------------------------------------------------------------
    def start(self) -> None:
        """Called by a reader thread as a read begins: its work is counted from now."""
        self._local.since = time.perf_counter()

    def pace(self) -> None:
        """Called by a reader thread between steps of a read: while write work is in progress,
        sleep ``PAUSE_S`` once ``BURST_S`` of work has passed since the last pause (hands the
        GIL to the block builder); otherwise return at once."""
        if not self._writing or self.share >= 1.0:
            return
        now = time.perf_counter()
        since: float = getattr(self._local, "since", now)
        if now - since >= BURST_S:
            time.sleep(PAUSE_S)
            self._local.since = time.perf_counter()
