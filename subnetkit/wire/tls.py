"""TLS certificates bound to hotkeys: no certificate authority, the hotkey vouches for its key.

Why not the hotkey itself in the certificate: grpcio's TLS (BoringSSL) cannot handshake Ed25519
certificates, and sr25519 is not a TLS algorithm at all. So each neuron holds a separate ECDSA
P-256 key in a self-signed certificate, and the hotkey binds it in two independent ways
(docs/protocol.md, "TLS"):

- **on chain**: the miner's ``ServeAxon`` extrinsic, signed by the hotkey, carries the SHA-256 of
  the certificate (DER). A validator pins exactly that certificate from the metagraph.
- **in the certificate**: a non-critical extension holds the hotkey's signature over the
  certificate's public key (the libp2p TLS pattern). It makes a certificate self-describing, so a
  miner can check a validator's client certificate against the validator's hotkey without the
  chain, before adding it to the certificates it accepts.

Pinning without a callback: grpcio offers no custom verification hook, so a client passes the
miner's own certificate as the only root and overrides the TLS server name with the name in the
certificate (``h-`` and the hex of the hotkey's public key). That name check proves nothing by
itself; the pin is the certificate, whose fingerprint came from the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from subnetkit.core import ss58
from subnetkit.core.errors import WireError
from subnetkit.core.keys import Signer, verify
from subnetkit.wire import protocol

#: Self-assigned OID (ITU-T X.667: ``2.25.`` and a UUID as an integer) for the binding extension.
BINDING_OID = x509.ObjectIdentifier("2.25.198302546016433436127412873446021352251")
_SERVER_NAME_HEX = 56  # DNS labels hold 63 characters: "h-" and 28 bytes of the key in hex


def server_name(hotkey: str) -> str:
    """The DNS name in ``hotkey``'s certificate; clients set it as the TLS target name."""
    key = ss58.public_key(hotkey)
    if key is None:
        raise WireError(f"{hotkey!r} is not an SS58 address")
    return "h-" + key.hex()[:_SERVER_NAME_HEX]


def fingerprint(cert_pem: bytes) -> bytes:
    """SHA-256 of the certificate's DER bytes: what ``ServeAxon`` stores and clients pin."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def _binding_extension(signer: Signer, spki_der: bytes) -> bytes:
    """The extension's value: ``str(crypto) || str(hotkey) || signature`` (docs/protocol.md)."""
    signed = protocol.tls_binding_message(
        hotkey=signer.ss58, crypto=signer.crypto, spki_hash=hashlib.sha256(spki_der).digest()
    )
    return protocol.lp(signer.crypto) + protocol.lp(signer.ss58) + signer.sign(signed)


@dataclass(frozen=True, slots=True)
class HotkeyCertificate:
    """A neuron's TLS identity: certificate and key (PEM) and what binds them to its hotkey."""

    hotkey: str
    cert_pem: bytes
    key_pem: bytes

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the certificate (DER): publish it with ``ServeAxon``."""
        return fingerprint(self.cert_pem)

    @property
    def server_name(self) -> str:
        return server_name(self.hotkey)


def issue(
    signer: Signer, *, days: int = 365, now: datetime.datetime | None = None
) -> HotkeyCertificate:
    """A fresh ECDSA P-256 key and a self-signed certificate for it, vouched for by ``signer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = server_name(signer.ss58)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        # Not a CA: trusted as its own root, it must not vouch for any other certificate (one
        # validator's key signing a certificate in another validator's name).
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(BINDING_OID, _binding_extension(signer, spki)),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return HotkeyCertificate(
        hotkey=signer.ss58,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def bound_hotkey(cert_pem: bytes) -> str:
    """The hotkey whose valid signature vouches for this certificate's key; WireError if none.

    Checks what a self-describing certificate must hold: an ECDSA P-256 key, the binding
    extension with a signature that verifies, and the hotkey's server name in the SAN.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise WireError(f"not a PEM certificate: {exc}") from None
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise WireError("certificate key is not ECDSA P-256: issue it with subnetkit.wire.tls")
    try:
        raw = cert.extensions.get_extension_for_oid(BINDING_OID).value
    except x509.ExtensionNotFound:
        raise WireError(
            "certificate carries no hotkey binding: issue it with subnetkit.wire.tls"
        ) from None
    crypto, hotkey, signature = _parse_binding(raw.value)  # type: ignore[attr-defined]
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not ss58.is_canonical(hotkey):
        raise WireError(f"certificate binding names {hotkey!r}, not a canonical SS58 hotkey")
    signed = protocol.tls_binding_message(
        hotkey=hotkey, crypto=crypto, spki_hash=hashlib.sha256(spki).digest()
    )
    if not verify(hotkey, signed, signature, crypto):
        raise WireError(f"certificate binding is not {hotkey}'s signature over the key")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.critical or constraints.value.ca:
        raise WireError("certificate must be marked not a CA (critical basicConstraints)")
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if server_name(hotkey) not in names.get_values_for_type(x509.DNSName):
        raise WireError(f"certificate does not name {server_name(hotkey)} in its SAN")
    return hotkey


def _parse_binding(raw: bytes) -> tuple[str, str, bytes]:
    fields: list[str] = []
    offset = 0
    for _ in range(2):
        if offset + 2 > len(raw):
            raise WireError("certificate binding is truncated")
        size = int.from_bytes(raw[offset : offset + 2], "big")
        text = raw[offset + 2 : offset + 2 + size]
        offset += 2 + size
        fields.append(text.decode(errors="replace"))
    signature = raw[offset:]
    if len(signature) != 64:
        raise WireError("certificate binding signature is not 64 bytes")
    return fields[0], fields[1], signature


def load_or_issue(directory: Path, signer: Signer, *, min_days_left: int = 30) -> HotkeyCertificate:
    """The certificate kept in ``directory`` for ``signer``, or a new one written there.

    Kept across restarts so the fingerprint on chain stays valid; reissued when it belongs to
    another hotkey or has under ``min_days_left`` days left (then serve it again on chain).
    """
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    if cert_path.exists() and key_path.exists():
        cert_pem = cert_path.read_bytes()
        try:
            expires = x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
            left = expires - datetime.datetime.now(datetime.UTC)
            if bound_hotkey(cert_pem) == signer.ss58 and left.days >= min_days_left:
                return HotkeyCertificate(signer.ss58, cert_pem, key_path.read_bytes())
        except (WireError, ValueError):
            pass  # unreadable or someone else's: replace it
    made = issue(signer)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(made.key_pem)
    cert_path.write_bytes(made.cert_pem)
    return made


async def fetch_certificate(host: str, port: int, expected: bytes, timeout: float = 5.0) -> bytes:
    """The PEM certificate a TLS endpoint presents, if its SHA-256 is ``expected``.

    How a validator gets the certificate it then pins: the chain holds only the fingerprint.
    This one handshake verifies nothing by itself (no CA); the fingerprint check does, and the
    gRPC channel that follows trusts only the returned certificate.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the fingerprint below is the check
    # TLS 1.3 sends the server's certificate before it asks for ours, so this works against a
    # miner that requires client certificates too (it refuses us only after we have read it).
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["h2"])
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=context)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise WireError(
            f"no TLS endpoint at {host}:{port} ({exc!r}): is the miner serving TLS there?",
            status=grpc.StatusCode.UNAVAILABLE,
            code="unavailable",
        ) from None
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    got = hashlib.sha256(der or b"").digest()
    if got != expected:
        raise WireError(
            f"{host}:{port} presents certificate {got.hex()[:16]}..., but the chain pins "
            f"{expected.hex()[:16]}... for this hotkey: another process holds the endpoint, or "
            "the miner changed its certificate without serving it again on chain",
            status=grpc.StatusCode.UNAUTHENTICATED,
            code="unauthenticated",
        )
    return ssl.DER_cert_to_PEM_cert(der).encode()
