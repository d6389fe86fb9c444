"""Miners over TLS keyed by hotkeys: pinned from the chain's fingerprint, mutual TLS refusing
strangers in the handshake, and session mode (no per-request signature, signed responses)."""

from __future__ import annotations

import grpc

from subnetkit.core.keys import Signer
from subnetkit.miner import MinerServer
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import MinerClient, Target
from subnetkit.wire import protocol, tls
from tests.miner.fakes import ScriptedMiner

S = grpc.StatusCode
ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
REQUEST = echo_pb2.EchoRequest(text="hi")


def target(server: MinerServer, fingerprint: bytes) -> Target:
    return Target(server.hotkey, "127.0.0.1", server.port, tls_fingerprint=fingerprint)


async def test_tls_miner_is_pinned_by_its_chain_fingerprint(alice: Signer, bob: Signer) -> None:
    cert = tls.issue(bob)
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, tls=cert) as server, MinerClient(alice) as client:
        ok = await client.query_one(target(server, cert.fingerprint), ECHO, REQUEST, 5)
        assert ok.ok, ok.error
        wrong = await client.query_one(target(server, b"\1" * 32), ECHO, REQUEST, 5)
        assert wrong.error is not None and wrong.error.status == S.UNAUTHENTICATED
        assert "the chain pins" in wrong.error.message
        plain = await client.query_one(target(server, b""), ECHO, REQUEST, 5)
        assert plain.error is not None and plain.error.status == S.UNAVAILABLE
        # A session request to a miner without mutual TLS is refused, not trusted.
        async with MinerClient(alice, tls_certificate=tls.issue(alice), session=True) as s:
            refused = await s.query_one(target(server, cert.fingerprint), ECHO, REQUEST, 5)
        assert refused.error is not None and refused.error.status == S.UNAUTHENTICATED
        assert "session mode needs mutual TLS" in refused.error.message
        again = await client.query_one(target(server, cert.fingerprint), ECHO, REQUEST, 5)
        assert again.ok
    assert miner.served == ["hi", "hi"]


async def test_mutual_tls_refuses_strangers_in_the_handshake(
    alice: Signer, bob: Signer, eve: Signer
) -> None:
    cert = tls.issue(bob)
    alice_cert, eve_cert = tls.issue(alice), tls.issue(eve)
    peers = TrustedPeers()
    assert peers.add(alice_cert.cert_pem) == alice.ss58
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, tls=cert, client_certificates=peers) as server:
        pinned = target(server, cert.fingerprint)
        async with MinerClient(eve, tls_certificate=eve_cert) as stranger:
            refused = await stranger.query_one(pinned, ECHO, REQUEST, 5)
        assert refused.error is not None and refused.error.status == S.UNAVAILABLE
        async with MinerClient(eve) as anonymous:
            refused = await anonymous.query_one(pinned, ECHO, REQUEST, 5)
        assert refused.error is not None and refused.error.status == S.UNAVAILABLE
        assert miner.started == []  # no handler ran for either
        async with MinerClient(
            alice, tls_certificate=alice_cert, session=True, session_verify_sample=0.5
        ) as sampling:  # a sampling client is served the same signed responses
            for _ in range(4):
                assert (await sampling.query_one(pinned, ECHO, REQUEST, 5)).ok
        async with MinerClient(alice, tls_certificate=alice_cert, session=True) as validator:
            result = await validator.query_one(pinned, ECHO, REQUEST, 5)
            assert result.ok, result.error  # the signed response verified
            assert result.response.payload == alice.ss58.encode()  # type: ignore[union-attr]
            peers.remove(alice.ss58)
        async with MinerClient(alice, tls_certificate=alice_cert, session=True) as validator:
            gone = await validator.query_one(pinned, ECHO, REQUEST, 5)
        assert gone.error is not None and gone.error.status == S.UNAVAILABLE
        assert miner.served == ["hi"] * 5


async def test_mutual_tls_with_signed_requests_still_works(alice: Signer, bob: Signer) -> None:
    cert, alice_cert = tls.issue(bob), tls.issue(alice)
    peers = TrustedPeers()
    peers.add(alice_cert.cert_pem)
    async with (
        MinerServer(ScriptedMiner(), bob, tls=cert, client_certificates=peers) as server,
        MinerClient(alice, tls_certificate=alice_cert) as client,
    ):
        assert (await client.query_one(target(server, cert.fingerprint), ECHO, REQUEST, 5)).ok


async def test_session_metadata_is_checked(alice: Signer, bob: Signer) -> None:
    """A session request still names the receiver, and its version and nonce are checked."""
    cert, alice_cert = tls.issue(bob), tls.issue(alice)
    peers = TrustedPeers()
    peers.add(alice_cert.cert_pem)
    async with MinerServer(ScriptedMiner(), bob, tls=cert, client_certificates=peers) as server:
        creds = grpc.ssl_channel_credentials(cert.cert_pem, alice_cert.key_pem, alice_cert.cert_pem)
        options = [("grpc.ssl_target_name_override", cert.server_name)]
        async with grpc.aio.secure_channel(f"127.0.0.1:{server.port}", creds, options) as ch:
            call = ch.unary_unary("/subnets.echo.v1.Echo/Echo")
            body = REQUEST.SerializeToString()
            for metadata, needle in (
                (protocol.session_request(receiver=alice.ss58, nonce=1), "addressed to"),
                ((("sk-session", "1"), ("sk-version", "1"), ("sk-receiver", bob.ss58)), "sk-nonce"),
            ):
                try:
                    await call(body, metadata=metadata, timeout=5)
                    raise AssertionError("accepted")
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == S.UNAUTHENTICATED and needle in (exc.details() or "")
            ok = call(
                body, metadata=protocol.session_request(receiver=bob.ss58, nonce=7), timeout=5
            )
            assert echo_pb2.EchoResponse.FromString(await ok).text == "hi"
            trailer = protocol.metadata_dict(await ok.trailing_metadata())
            message = protocol.response_message(
                version="1",
                method="/subnets.echo.v1.Echo/Echo",
                caller=alice.ss58,
                request_hash=protocol.sha256(body),
                nonce=7,
                response_hash=protocol.sha256(await ok),
                miner_crypto="sr25519",
                miner=bob.ss58,
            )
            assert (
                protocol.check_response_trailer(
                    trailer, miner=bob.ss58, crypto="sr25519", message=message
                )
                is None
            )


def test_trusted_peers_refuse_unbound_and_disallowed_certificates(
    alice: Signer, eve: Signer
) -> None:
    import pytest

    from subnetkit.core.errors import WireError

    peers = TrustedPeers(max_peers=1, allow=lambda hotkey: hotkey != eve.ss58)
    with pytest.raises(WireError, match="not allowed"):
        peers.add(tls.issue(eve).cert_pem)
    with pytest.raises(WireError, match="not a PEM"):
        peers.add(b"junk")
    peers.add(tls.issue(alice).cert_pem)
    peers.add(tls.issue(alice).cert_pem)  # a new certificate replaces the old one
    assert len(peers) == 1


async def test_a_trusted_validator_cannot_vouch_for_another_name(
    alice: Signer, bob: Signer, charlie: Signer
) -> None:
    """A certificate Alice's key signs in Charlie's name gets no session as Charlie.

    gRPC's TLS lets it through the handshake (it chains to Alice's trusted certificate, though
    that one is marked not a CA), so the miner maps only exact trusted certificates to hotkeys.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cert, alice_cert, charlie_cert = tls.issue(bob), tls.issue(alice), tls.issue(charlie)
    peers = TrustedPeers()
    peers.add(alice_cert.cert_pem)
    peers.add(charlie_cert.cert_pem)
    alice_key = serialization.load_pem_private_key(alice_cert.key_pem, None)
    issuer = x509.load_pem_x509_certificate(alice_cert.cert_pem).subject
    key = ec.generate_private_key(ec.SECP256R1())
    name = tls.server_name(charlie.ss58)
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(alice_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    chain = forged.public_bytes(serialization.Encoding.PEM) + alice_cert.cert_pem
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, tls=cert, client_certificates=peers) as server:
        creds = grpc.ssl_channel_credentials(cert.cert_pem, key_pem, chain)
        options = [("grpc.ssl_target_name_override", cert.server_name)]
        async with grpc.aio.secure_channel(f"127.0.0.1:{server.port}", creds, options) as ch:
            metadata = protocol.session_request(receiver=bob.ss58, nonce=1)
            try:
                await ch.unary_unary("/subnets.echo.v1.Echo/Echo")(
                    REQUEST.SerializeToString(), metadata=metadata, timeout=5
                )
                raise AssertionError("a certificate signed by a trusted leaf was served")
            except grpc.aio.AioRpcError as exc:  # refused: in the handshake, or as no session
                assert exc.code() in (S.UNAVAILABLE, S.UNAUTHENTICATED), exc
        assert miner.started == []
        async with MinerClient(charlie, tls_certificate=charlie_cert, session=True) as client:
            result = await client.query_one(target(server, cert.fingerprint), ECHO, REQUEST, 5)
        assert result.ok and result.response.payload == charlie.ss58.encode()  # type: ignore[union-attr]
