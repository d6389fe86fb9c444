"""ValidatorCertificates against real TLS endpoints: what is trusted, what is fetched again,
and that one failure neither stops the rest nor leaves a replaced certificate trusted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from subnetkit.core.keys import Signer
from subnetkit.core.ports import free_port_near
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.miner.validator_certs import Announced, ValidatorCertificates
from subnetkit.validator.identity import IdentityEndpoint
from subnetkit.wire import tls

pytestmark = pytest.mark.timeout(30)


@contextlib.asynccontextmanager
async def serving(cert: tls.HotkeyCertificate) -> AsyncIterator[IdentityEndpoint]:
    endpoint = IdentityEndpoint(cert, "127.0.0.1", 0)
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.stop(0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_certificates_follow_what_the_chain_announces(
    alice: Signer, bob: Signer, eve: Signer
) -> None:
    fetched: list[int] = []

    async def counting_fetch(host: str, port: int, fingerprint: bytes, timeout: float) -> bytes:
        fetched.append(port)
        return await tls.fetch_certificate(host, port, fingerprint, timeout)

    clock = Clock()
    peers = TrustedPeers(allow=lambda hotkey: hotkey != eve.ss58)
    registry = CollectorRegistry()
    certs = ValidatorCertificates(
        peers, fetch=counting_fetch, timeout=2.0, clock=clock, registry=registry
    )
    alice_cert, bob_cert, eve_cert = tls.issue(alice), tls.issue(bob), tls.issue(eve)
    dead = free_port_near("127.0.0.1", 20000)
    assert dead is not None
    async with serving(alice_cert) as a, serving(bob_cert) as b, serving(eve_cert) as e:
        at_a = Announced(alice.ss58, "127.0.0.1", a.port, alice_cert.fingerprint)
        at_b = Announced(bob.ss58, "127.0.0.1", b.port, bob_cert.fingerprint)
        await certs.sync({alice.ss58: at_a, bob.ss58: at_b})
        assert sorted(peers.hotkeys()) == sorted([alice.ss58, bob.ss58])
        await certs.sync({alice.ss58: at_a, bob.ss58: at_b})
        assert len(fetched) == 2  # unchanged (hotkey, fingerprint): not fetched again

        # Bob announces eve's certificate (valid, but bound to eve): refused, and not fetched
        # again while the chain shows the same fingerprint. Alice's new fingerprint points
        # at a dead port: her old certificate is dropped at once, and the failure is retried
        # only after retry_s. Neither stops the other.
        borrowed = Announced(bob.ss58, "127.0.0.1", e.port, eve_cert.fingerprint)
        moved = Announced(alice.ss58, "127.0.0.1", dead, b"\1" * 32)
        wanted = {alice.ss58: moved, bob.ss58: borrowed}
        await certs.sync(wanted)
        assert list(peers.hotkeys()) == []
        await certs.sync(wanted)
        assert len(fetched) == 4
        clock.now += certs.retry_s
        await certs.sync(wanted)
        assert fetched[4:] == [dead]  # only the unreachable one is tried again
        failures = "subnetkit_miner_client_certificate_failures_total"
        assert registry.get_sample_value(failures, {"reason": "unreachable"}) == 2
        assert registry.get_sample_value(failures, {"reason": "refused"}) == 1

        # Eve announces her own certificate, but the policy does not admit her.
        at_e = Announced(eve.ss58, "127.0.0.1", e.port, eve_cert.fingerprint)
        await certs.sync({alice.ss58: at_a, eve.ss58: at_e})
        assert list(peers.hotkeys()) == [alice.ss58]
        # Gone from the chain (or lost its permit): no longer trusted.
        await certs.sync({})
        assert len(peers) == 0
        assert registry.get_sample_value("subnetkit_miner_trusted_client_certificates") == 0
