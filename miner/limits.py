"""What one miner server accepts (:class:`Limits`) and how it refuses the rest (:func:`refusal`).

Every bound here exists because every peer is hostile: a request, a caller or a synapse gets at
most its share of memory, threads and queue, and past it is refused with a precise gRPC status.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from subnetkit.core.errors import WireError


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one miner server. Defaults suit a small CPU miner."""

    max_request_bytes: int = 4 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    max_concurrency: int = 64  # handlers running at once, per synapse
    max_queue: int = 1024  # requests waiting for a slot, per synapse
    max_per_caller: int = 512  # one caller's requests queued or running, all synapses
    max_age_s: float = 10.0  # oldest acceptable nonce
    max_skew_s: float = 2.0  # how far ahead of our clock a nonce may be
    nonce_cache_capacity: int = 200_000  # live (caller, nonce) pairs remembered, all callers
    nonce_cache_per_caller: int = 50_000  # one caller's share of them: ~4,000 requests/s sustained
    default_timeout_s: float = 60.0  # handler budget when the caller sets no deadline
    # Threads per plain ``def`` synapse. Such a synapse runs at most this many handlers at once
    # (its max_concurrency is capped to it), so a request never waits unseen in the pool.
    worker_threads: int = 8


def refusal(status: grpc.StatusCode, message: str) -> WireError:
    """The error a request is refused with: ``status`` on the wire, ``message`` as its details."""
    return WireError(message, status=status, code=status.name.lower())
