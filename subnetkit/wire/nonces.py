"""Request nonces: nanosecond timestamps that never repeat for one signing hotkey.

A miner remembers each (caller, nonce) it served for its freshness window and refuses the same
pair again (docs/protocol.md, replay), so a client must never reuse one: not within a process
(two requests in one nanosecond) and not across processes signing with the same hotkey.
"""

from __future__ import annotations

import time


class NonceClock:
    """Nanosecond timestamps that never repeat within one process (callers sign these as nonces).

    Two requests in the same nanosecond from one caller would otherwise collide in the miner's
    replay cache and the second would be rejected as a replay.
    """

    __slots__ = ("_lane", "_lanes", "_last")

    def __init__(self, lane: int = 0, lanes: int = 1) -> None:
        if not 0 <= lane < lanes:
            raise ValueError(f"lane {lane} is not in 0..{lanes - 1}")
        self._last = 0
        self._lane = lane
        self._lanes = lanes

    def __call__(self) -> int:
        """The next nonce: now (ns), past the last one, and ``== lane (mod lanes)``."""
        now = max(time.time_ns(), self._last + 1)
        now += (self._lane - now) % self._lanes
        self._last = now
        return now


def lane_clock(lane: int, lanes: int) -> NonceClock:
    """A nonce clock for one of ``lanes`` processes signing with the same hotkey at once (load
    workers): their nonces can never coincide, since each keeps to its own residue."""
    return NonceClock(lane, lanes)


#: One nonce clock for the whole process: two clients sharing a hotkey never reuse a nonce.
next_nonce = NonceClock()
