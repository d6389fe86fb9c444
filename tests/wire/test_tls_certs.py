"""Certificates bound to hotkeys: issued, checked, persisted, and fetched only by fingerprint."""

from __future__ import annotations

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from subnetkit.core.errors import WireError
from subnetkit.core.keys import dev_signer
from subnetkit.wire import tls

ALICE, BOB = dev_signer("alice"), dev_signer("bob")


def test_issued_certificate_is_p256_and_bound_to_the_hotkey() -> None:
    made = tls.issue(BOB)
    cert = x509.load_pem_x509_certificate(made.cert_pem)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert tls.bound_hotkey(made.cert_pem) == BOB.ss58
    assert made.server_name == "h-" + BOB.public_key.hex()[:56]
    assert len(made.fingerprint) == 32


def test_a_binding_for_another_key_is_refused() -> None:
    # Alice's binding extension moved onto Bob's certificate key does not verify.
    alice, bob = tls.issue(ALICE), tls.issue(BOB)
    ext = x509.load_pem_x509_certificate(alice.cert_pem).extensions.get_extension_for_oid(
        tls.BINDING_OID
    )
    from cryptography.hazmat.primitives import hashes, serialization

    key = serialization.load_pem_private_key(bob.key_pem, None)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, tls.server_name(ALICE.ss58))])
    forged = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(x509.load_pem_x509_certificate(bob.cert_pem).not_valid_before_utc)
        .not_valid_after(x509.load_pem_x509_certificate(bob.cert_pem).not_valid_after_utc)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(tls.server_name(ALICE.ss58))]), False
        )
        .add_extension(ext.value, critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(WireError, match=r"not .* signature over the key"):
        tls.bound_hotkey(forged)


def test_certificate_is_kept_across_restarts_and_replaced_for_another_hotkey(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = tls.load_or_issue(tmp_path, BOB)
    assert tls.load_or_issue(tmp_path, BOB) == first  # same fingerprint on chain after restart
    assert (tmp_path / "tls-key.pem").stat().st_mode & 0o077 == 0
    other = tls.load_or_issue(tmp_path, ALICE)
    assert other.hotkey == ALICE.ss58 and other.fingerprint != first.fingerprint


async def test_fetch_checks_the_fingerprint() -> None:
    made = tls.issue(BOB)
    server = grpc.aio.server()
    creds = grpc.ssl_server_credentials([(made.key_pem, made.cert_pem)])
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    try:
        assert await tls.fetch_certificate("127.0.0.1", port, made.fingerprint) == made.cert_pem
        with pytest.raises(WireError, match="the chain pins") as wrong:
            await tls.fetch_certificate("127.0.0.1", port, b"\0" * 32)
        assert wrong.value.status == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)
    with pytest.raises(WireError, match="no TLS endpoint") as gone:
        await tls.fetch_certificate("127.0.0.1", port, made.fingerprint, timeout=2)
    assert gone.value.status == grpc.StatusCode.UNAVAILABLE
