"""Channel credentials for miners that serve TLS: each miner's own certificate, pinned from chain.

A target that carries a certificate fingerprint (from the metagraph: the miner's signed
``ServeAxon``) is reached over TLS whose only trusted root is the certificate with exactly that
fingerprint, fetched once from the endpoint and checked (``subnetkit.wire.tls``). No CA is
involved anywhere. With a client certificate of our own, the channel is mutual TLS and a miner
that requires it knows our hotkey from the handshake.

The transport is told which endpoints are TLS by their key: :meth:`CertificatePins.key` gives
``tls:<fingerprint hex>@host:port`` for a pinned endpoint, and ``GrpcTransport`` opens a pinned
TLS channel for such a key (a new fingerprint is a new key, so a new channel).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import grpc

from subnetkit.core.errors import WireError
from subnetkit.wire import tls

TLS_KEY_PREFIX = "tls:"


class CertificatePins:
    """Pinned miner certificates by (endpoint, fingerprint), bounded LRU; fetched once each.

    Concurrent first queries to one miner share one fetch, so a fan-out never opens a burst of
    handshakes to the same endpoint.
    """

    def __init__(self, own: tls.HotkeyCertificate | None = None, max_entries: int = 4096) -> None:
        self.own = own
        self.max_entries = max_entries
        self._pins: OrderedDict[str, tuple[str, str, bytes]] = (
            OrderedDict()
        )  # endpoint, hotkey, PEM
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    @staticmethod
    def key(endpoint: str, fingerprint: bytes) -> str:
        """The transport's endpoint key for a pinned TLS endpoint."""
        return f"{TLS_KEY_PREFIX}{fingerprint.hex()}@{endpoint}"

    async def ensure(
        self, host: str, port: int, endpoint: str, fingerprint: bytes, hotkey: str
    ) -> str:
        """Fetch and check the certificate of ``endpoint`` unless it is pinned already; the
        endpoint key to send to (see the module docstring).

        Raises :class:`~subnetkit.core.errors.WireError` (UNAVAILABLE or UNAUTHENTICATED).
        """
        key = self.key(endpoint, fingerprint)
        if key in self._pins:
            self._pins.move_to_end(key)
            return key
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(tls.fetch_certificate(host, port, fingerprint))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        pem = await asyncio.shield(pending)
        self._pins[key] = (endpoint, hotkey, pem)
        while len(self._pins) > self.max_entries:
            self._pins.popitem(last=False)
        return key

    def channel(self, key: str, options: Sequence[tuple[str, Any]]) -> grpc.aio.Channel:
        """A TLS channel for a pinned ``key``, trusting only that endpoint's certificate."""
        pinned = self._pins.get(key)
        if pinned is None:
            raise WireError(
                f"no pinned certificate for {key}: the client fetches it before sending",
                status=grpc.StatusCode.UNAVAILABLE,
                code="unavailable",
            )
        endpoint, hotkey, pem = pinned
        if self.own is not None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=pem,
                private_key=self.own.key_pem,
                certificate_chain=self.own.cert_pem,
            )
        else:
            creds = grpc.ssl_channel_credentials(root_certificates=pem)
        # The override is the certificate's own name: the pin above is the real check.
        named = [*options, ("grpc.ssl_target_name_override", tls.server_name(hotkey))]
        return grpc.aio.secure_channel(endpoint, creds, options=named)
