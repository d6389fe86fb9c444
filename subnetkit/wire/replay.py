"""A bounded TTL set of (caller, nonce) pairs: each signed request is accepted at most once.

Why time-ordered expiry is enough: a nonce is only accepted while it is fresh (no older than
``max_age``, no more than ``max_skew`` ahead), so an entry inserted at wall time ``t`` can be
forgotten at ``t + max_age + max_skew``: by then the freshness check alone rejects its replay.
Entries are appended in insertion order, so expiry pops from the front in O(1).

Why a hard capacity: memory must stay bounded under any load. When the set is full of entries
that may still be replayed, the cache refuses the new request (the server answers
RESOURCE_EXHAUSTED) rather than forgetting a live nonce, which would reopen a replay window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class ReplayCacheFull(Exception):
    """The cache holds ``capacity`` live entries; the request must be shed, not remembered."""


class ReplayCache:
    """Remembers (caller, nonce) pairs for ``ttl_s`` seconds, at most ``capacity`` of them."""

    __slots__ = ("_clock", "_expiry", "_seen", "capacity", "ttl_ns")

    def __init__(
        self,
        ttl_s: float,
        capacity: int = 200_000,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.ttl_ns = int(ttl_s * 1e9)
        self.capacity = capacity
        self._clock = clock
        self._seen: set[tuple[str, int]] = set()
        self._expiry: deque[tuple[int, tuple[str, int]]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: int) -> None:
        expiry, seen = self._expiry, self._seen
        while expiry and expiry[0][0] <= now:
            seen.discard(expiry.popleft()[1])

    def check_and_add(self, caller: str, nonce: int) -> bool:
        """True the first time (caller, nonce) is seen; False for a replay.

        Raises :class:`ReplayCacheFull` when it cannot remember one more live entry.
        """
        key = (caller, nonce)
        now = self._clock()
        self._expire(now)
        if key in self._seen:
            return False
        if len(self._seen) >= self.capacity:
            raise ReplayCacheFull(f"replay cache full ({self.capacity} live nonces); retry shortly")
        self._seen.add(key)
        self._expiry.append((now + self.ttl_ns, key))
        return True
