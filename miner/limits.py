"""What one miner server accepts (:class:`Limits`) and how it refuses the rest (:func:`refusal`).

Every bound here exists because every peer is hostile: a request, a caller or a synapse gets at
most its share of memory, threads and queue, and past it is refused with a precise gRPC status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import grpc

from subnetkit.core.errors import ConfigError, WireError
from subnetkit.wire.server_bounds import connection_options


@dataclass(frozen=True, slots=True)
class SynapseCaps:
    """One synapse's own caps on what a request may hold, where they differ from the
    server-wide ones in :class:`Limits` (None: the server-wide value). A quick lookup and a
    long generation stream need different bounds: one cap for both either lets the lookup's
    callers hold slots far too long or cuts the stream short."""

    max_deadline_s: float | None = None
    max_stream_s: float | None = None
    max_stream_chunks: int | None = None


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
    # What one request may hold, whatever its caller asks: a caller's 600 s deadline on a
    # stream it never reads would otherwise keep a slot for 600 s.
    max_deadline_s: float = 120.0  # longest handler budget, whatever deadline the caller sets
    max_stream_s: float = 60.0  # longest a stream may run
    max_stream_chunks: int = 10_000  # chunks one stream may send; past it: RESOURCE_EXHAUSTED
    # The three caps above for one synapse (by name, e.g. "EchoStream"), where set there.
    synapse_caps: Mapping[str, SynapseCaps] = field(default_factory=dict)
    # Slots: one caller runs at most ``slot_share`` of a synapse's slots (its other requests
    # wait their turn without holding one), and ``priority_reserve`` of them are kept for
    # callers whose priority hook gives more than 0 (e.g. stake), so they get a slot even when
    # priority-0 callers hold all the others.
    slot_share: float = 0.25
    priority_reserve: float = 0.25
    # Connections (HTTP/2, enforced by gRPC core before any Python runs).
    max_streams_per_connection: int = 100
    max_connections: int = 4096
    max_connection_idle_s: float = 300.0  # GOAWAY to a connection with no calls this long
    max_connection_age_s: float = 3600.0  # GOAWAY to any connection this old (it reconnects)
    connection_age_grace_s: float = 30.0  # calls in flight get this long to finish after it
    handshake_timeout_s: float = 5.0
    keepalive_min_interval_s: float = 10.0  # pings faster than this are strikes
    max_ping_strikes: int = 2  # strikes, then GOAWAY "too_many_pings"
    max_metadata_bytes: int = 16 * 1024
    max_health_watchers: int = 64  # open health Watch streams, all callers together
    # Calls in progress on the whole server (every synapse, health and reflection together);
    # past it gRPC answers RESOURCE_EXHAUSTED before any of our Python runs. Above what the
    # synapses can run and queue by default (64 + 1024 each), so honest load never meets it.
    max_concurrent_rpcs: int = 4096
    # Session streams (mutual TLS; docs/protocol.md "Session streams"): one validator's
    # messages running at once on one stream (past it the miner stops reading that stream), and
    # the streams one validator may hold open (a client keeps one per miner, two while it
    # rotates them).
    max_session_in_flight: int = 100
    max_sessions_per_caller: int = 8
    # Threads per plain ``def`` synapse. Such a synapse runs at most this many handlers at once
    # (its max_concurrency is capped to it), so a request never waits unseen in the pool.
    worker_threads: int = 8

    def caps_for(self, synapse: str, streaming: bool) -> tuple[float, int]:
        """(the longest handler budget, the most chunks per stream) for ``synapse``: its own
        :class:`SynapseCaps` where set, else the server-wide caps; a stream's budget is also
        capped by its stream duration."""
        own = self.synapse_caps.get(synapse) or SynapseCaps()
        budget = self.max_deadline_s if own.max_deadline_s is None else own.max_deadline_s
        if streaming:
            stream = self.max_stream_s if own.max_stream_s is None else own.max_stream_s
            budget = min(budget, stream)
        chunks = self.max_stream_chunks if own.max_stream_chunks is None else own.max_stream_chunks
        return budget, chunks

    def slots_per_caller(self, max_concurrency: int) -> int:
        """How many of a synapse's ``max_concurrency`` slots one caller may run at once."""
        return max(1, int(max_concurrency * self.slot_share))

    def reserved_slots(self, max_concurrency: int) -> int:
        """How many slots only callers with priority above 0 may take (never all of them)."""
        return min(max_concurrency - 1, int(max_concurrency * self.priority_reserve))

    def server_options(self) -> list[tuple[str, int]]:
        """gRPC server channel arguments for the connection-level bounds above."""
        return connection_options(
            max_receive_bytes=self.max_request_bytes + 64 * 1024,
            max_send_bytes=self.max_response_bytes,
            max_streams_per_connection=self.max_streams_per_connection,
            max_connections=self.max_connections,
            max_connection_idle_s=self.max_connection_idle_s,
            max_connection_age_s=self.max_connection_age_s,
            connection_age_grace_s=self.connection_age_grace_s,
            handshake_timeout_s=self.handshake_timeout_s,
            keepalive_min_interval_s=self.keepalive_min_interval_s,
            max_ping_strikes=self.max_ping_strikes,
            max_metadata_bytes=self.max_metadata_bytes,
        )


def check_synapse_caps(
    caps: Iterable[str], served: Iterable[str], setting: str = "Limits.synapse_caps"
) -> None:
    """ConfigError naming each of ``caps`` this miner does not serve and those it does: caps
    for a misspelt synapse would otherwise be ignored and the synapse left on the server-wide
    ones. ``setting`` is where the caps were given (``miner.synapse_caps`` from settings)."""
    served = list(served)
    unknown = sorted(set(caps) - set(served))
    if unknown:
        named = ", ".join(f"{setting}.{name}" for name in unknown)
        raise ConfigError(
            f"{named}: this miner serves no such synapse; it serves: {', '.join(served)}"
        )


def refusal(status: grpc.StatusCode, message: str) -> WireError:
    """The error a request is refused with: ``status`` on the wire, ``message`` as its details."""
    return WireError(message, status=status, code=status._name_.lower())
