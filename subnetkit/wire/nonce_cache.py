"""A bounded TTL set of (caller, nonce) pairs: each signed request is accepted at most once.

Why time-ordered expiry is enough: a nonce is only accepted while it is fresh (no older than
``max_age``, no more than ``max_skew`` ahead), so an entry inserted at wall time ``t`` can be
forgotten at ``t + max_age + max_skew``: by then the freshness check alone rejects its replay.
Entries are appended in insertion order, so expiry pops from the front in O(1).

Why entries are timed from the freshness check: the server checks a nonce's freshness first and
adds it here only after slower steps (a blacklist hook that may await a database, the signature).
The replay window a nonce opens is measured from that check (``checked_at``): an entry is kept
until ``checked_at + ttl`` *and* at least ``ttl`` after it was added, so however long the steps in
between take, the entry outlives every moment at which a copy of the request could still pass the
freshness check. Expiry pops from the front of an insertion-ordered queue; an entry that is kept
longer than its neighbours only delays their removal, it never lets one go early.

Why a cheap ``seen`` lookup: a replayed request can be refused before its signature is verified
(the costliest check), by looking the pair up. Only a verified request adds its pair, so nobody
can fill another caller's quota with forged requests.

Why a hard capacity: memory must stay bounded under any load. When the set is full of entries
that may still be replayed, the cache refuses the new request (the server answers
RESOURCE_EXHAUSTED) rather than forgetting a live nonce, which would reopen a replay window.

Why a per-caller quota: with one shared pool, a single caller sending fast enough (and before a
chain is attached every key may call) fills it and every other caller is shed. Each caller may
hold at most ``per_caller`` live entries, so one caller can take at most that share and the rest
stays available to everyone else. The per-caller counts live only as long as their entries, so
they are bounded by ``capacity`` too. (Many distinct keys can still share the pool out between
them; bounding *who* may call at all is the blacklist hook's job, e.g. registered hotkeys only.)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class NonceCacheFull(Exception):
    """No room for one more live entry (pool or caller quota): shed the request, never forget."""


class NonceCache:
    """Remembers (caller, nonce) pairs for ``ttl_s`` seconds: ``capacity`` in all, at most
    ``per_caller`` per caller (default a quarter of the capacity)."""

    __slots__ = ("_clock", "_counts", "_expiry", "_seen", "capacity", "per_caller", "ttl_ns")

    def __init__(
        self,
        ttl_s: float,
        capacity: int = 200_000,
        *,
        per_caller: int | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        if per_caller is not None and per_caller <= 0:
            raise ValueError("per_caller must be positive")
        self.ttl_ns = int(ttl_s * 1e9)
        self.capacity = capacity
        self.per_caller = min(capacity, per_caller or max(1, capacity // 4))
        self._clock = clock
        self._seen: set[tuple[str, int]] = set()
        self._counts: dict[str, int] = {}  # live entries per caller; only callers that have some
        self._expiry: deque[tuple[int, tuple[str, int]]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def live(self, caller: str) -> int:
        """How many of ``caller``'s nonces are remembered now (its share of the pool)."""
        return self._counts.get(caller, 0)

    def _expire(self, now: int) -> None:
        expiry, seen, counts = self._expiry, self._seen, self._counts
        while expiry and expiry[0][0] <= now:
            key = expiry.popleft()[1]
            seen.discard(key)
            left = counts[key[0]] - 1
            if left:
                counts[key[0]] = left
            else:
                del counts[key[0]]

    def seen(self, caller: str, nonce: int) -> bool:
        """True if (caller, nonce) is remembered: a replay, refused before any signature check.

        Read-only: it never adds, so an unauthenticated request cannot touch anyone's quota.
        """
        return (caller, nonce) in self._seen

    def check_and_add(self, caller: str, nonce: int, checked_at: int | None = None) -> bool:
        """True the first time (caller, nonce) is seen; False for a replay.

        ``checked_at`` is the clock reading at which the nonce's freshness was checked (default:
        now); the entry is kept for ``ttl`` from then and for at least ``ttl`` from now.
        Raises :class:`NonceCacheFull` when the caller is at its quota or the pool is full.
        """
        key = (caller, nonce)
        now = self._clock()
        self._expire(now)
        if key in self._seen:
            return False
        if len(self._seen) >= self.capacity:
            raise NonceCacheFull(f"nonce cache full ({self.capacity} live nonces); retry shortly")
        held = self._counts.get(caller, 0)
        if held >= self.per_caller:
            ttl = self.ttl_ns / 1e9
            raise NonceCacheFull(
                f"caller {caller} has {held} requests in the replay window here (quota "
                f"{self.per_caller} per {ttl:g} s): send fewer requests per second to this miner"
            )
        self._seen.add(key)
        self._counts[caller] = held + 1
        start = now if checked_at is None else max(now, checked_at)
        self._expiry.append((start + self.ttl_ns, key))
        return True
