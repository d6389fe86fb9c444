"""Mutual TLS on a miner: which client certificates it accepts, and session-mode requests.

A miner that requires mutual TLS refuses, in the handshake and before any Python runs, every
client whose certificate is not in its :class:`TrustedPeers`. Each trusted certificate is bound
to a hotkey (``subnetkit.wire.tls``: the hotkey's signature over the certificate's key), so the
handshake itself proves the caller's hotkey. That is what session mode builds on: a request on
such a connection needs no per-request signature, freshness window or replay entry (TLS already
rules out replay and tampering on the connection). Responses are still signed, as evidence of
what the miner answered. docs/protocol.md, "TLS" and "Session mode", specifies both.

Why certificates are added explicitly: grpcio cannot verify a client certificate with our own
code during the handshake, so the miner must hold every certificate it accepts as a trust root
(the per-connection credential fetcher picks up changes without a restart).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from subnetkit.core.errors import WireError
from subnetkit.wire import protocol, tls

_S = grpc.StatusCode


def _der_fingerprint(pem: bytes) -> bytes:
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


class TrustedPeers:
    """Client certificates a miner accepts in mutual TLS, at most ``max_peers``, one per hotkey.

    ``allow(hotkey)`` (e.g. "has a validator permit on the metagraph") decides who may be added;
    a certificate must carry a valid hotkey binding. Adding a new certificate for a hotkey
    replaces its old one.
    """

    def __init__(self, max_peers: int = 1024, allow: Callable[[str], bool] | None = None) -> None:
        self.max_peers = max_peers
        self.allow = allow
        self._by_hotkey: dict[str, tuple[bytes, bytes]] = {}  # hotkey -> (fingerprint, PEM)
        self._by_fingerprint: dict[bytes, str] = {}
        self._pem_cache: OrderedDict[bytes, bytes] = OrderedDict()  # as gRPC shows it -> fp
        self._bundle: bytes | None = None

    def __len__(self) -> int:
        return len(self._by_hotkey)

    def add(self, cert_pem: bytes) -> str:
        """Trust ``cert_pem`` for the hotkey bound in it; that hotkey, or WireError why not."""
        hotkey = tls.bound_hotkey(cert_pem)
        if self.allow is not None and not self.allow(hotkey):
            raise WireError(
                f"{hotkey} may not connect here (not allowed by this miner's policy)",
                status=_S.PERMISSION_DENIED,
                code="permission_denied",
            )
        if hotkey not in self._by_hotkey and len(self._by_hotkey) >= self.max_peers:
            raise WireError(
                f"this miner trusts {self.max_peers} client certificates already: remove one",
                status=_S.RESOURCE_EXHAUSTED,
                code="resource_exhausted",
            )
        self.remove(hotkey)
        fingerprint = _der_fingerprint(cert_pem)
        self._by_hotkey[hotkey] = (fingerprint, cert_pem)
        self._by_fingerprint[fingerprint] = hotkey
        self._bundle = None
        return hotkey

    def remove(self, hotkey: str) -> None:
        """Stop trusting ``hotkey``'s certificate (new connections are refused at once)."""
        old = self._by_hotkey.pop(hotkey, None)
        if old is not None:
            self._by_fingerprint.pop(old[0], None)
            self._pem_cache.clear()
            self._bundle = None

    def hotkeys(self) -> Iterable[str]:
        return list(self._by_hotkey)

    def fingerprint_of(self, hotkey: str) -> bytes | None:
        """SHA-256 (DER) of the certificate trusted for ``hotkey``, or None."""
        held = self._by_hotkey.get(hotkey)
        return None if held is None else held[0]

    def bundle(self) -> bytes | None:
        """The trusted certificates as one PEM bundle (gRPC's client-certificate roots)."""
        if self._bundle is None and self._by_hotkey:
            self._bundle = b"".join(pem for _, pem in self._by_hotkey.values())
        return self._bundle

    def hotkey_of(self, pem: bytes) -> str | None:
        """The hotkey of a handshake's client certificate (PEM), if that exact certificate is
        still trusted; one dict lookup per request (the PEM bytes gRPC reports are cached).

        Why the whole certificate and not the name the peer shows (``peer_identities()``, much
        cheaper): gRPC's TLS accepts a certificate *signed by* a trusted one even though ours are
        marked not to be CAs, so a trusted validator could present a certificate of its own
        making in another validator's name. Only the exact trusted certificates map to hotkeys.
        """
        fingerprint = self._pem_cache.get(pem)
        if fingerprint is None:
            try:
                fingerprint = _der_fingerprint(pem)
            except ValueError:
                return None
            self._pem_cache[pem] = fingerprint
            if len(self._pem_cache) > 2 * self.max_peers:
                self._pem_cache.popitem(last=False)
        return self._by_fingerprint.get(fingerprint)


class SessionCallers:
    """Admits session-mode requests: the caller is the hotkey of the TLS client certificate."""

    def __init__(self, peers: TrustedPeers) -> None:
        self.peers = peers

    @staticmethod
    def wants_session(metadata: Iterable[tuple[str, str | bytes]]) -> bool:
        """True if the request asks for session mode (``sk-session``; no signature)."""
        return any(key == protocol.MD_SESSION for key, _ in metadata)

    def admit(
        self,
        metadata: Iterable[tuple[str, str | bytes]] | Mapping[str, str | bytes],
        context: object,
        *,
        stream: bool = False,
    ) -> protocol.RequestAuth:
        """The auth fields of a session request (or, ``stream=True``, of a session stream's
        opening: no nonce), its caller taken from the handshake (a gRPC context's
        ``auth_context()``; a context without one, in-process, has no session)."""
        caller = caller_of(self.peers, context)
        if caller is None:
            raise WireError(
                "session mode needs mutual TLS with a client certificate this miner trusts: "
                "sign each request instead (docs/protocol.md, Session mode)",
                status=_S.UNAUTHENTICATED,
                code="unauthenticated",
            )
        return protocol.parse_session_metadata(metadata, caller, stream=stream)


def caller_of(peers: TrustedPeers, context: object) -> str | None:
    """The hotkey of the call's TLS client certificate if ``peers`` trusts that exact one."""
    auth_context = getattr(context, "auth_context", None)
    pems = auth_context().get("x509_pem_cert") if auth_context is not None else None
    pem = next(iter(pems), None) if pems else None
    return peers.hotkey_of(pem) if pem is not None else None


def server_credentials(
    certificate: tls.HotkeyCertificate, peers: TrustedPeers | None
) -> grpc.ServerCredentials:
    """TLS with the miner's hotkey-bound certificate; with ``peers``, mutual TLS required.

    The fetcher runs for every new connection, before its handshake, so certificates added to
    or removed from ``peers`` apply to the next connection without a restart.
    """
    pair = [(certificate.key_pem, certificate.cert_pem)]
    if peers is None:
        return grpc.ssl_server_credentials(pair)

    def current() -> grpc.ServerCertificateConfiguration:
        # With no peer yet, only the miner's own certificate is a root: nobody else gets in.
        roots = peers.bundle() or certificate.cert_pem
        return grpc.ssl_server_certificate_configuration(pair, root_certificates=roots)

    return grpc.dynamic_ssl_server_credentials(
        current(), current, require_client_authentication=True
    )
