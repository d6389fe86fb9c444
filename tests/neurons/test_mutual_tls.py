"""Mutual TLS and session mode switched on from neuron settings, end to end on a real chain.

A validator with ``axon.tls`` serves its hotkey-bound certificate and announces it; a miner with
``axon.require_client_tls`` fetches the certificates of the validators it admits on every
metagraph refresh and refuses everyone else in the handshake; ``validator.session`` then sends
that miner unsigned requests, while a plaintext miner and a TLS miner without client
certificates in the same round still get signed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from subnetkit.chain import endpoints
from subnetkit.chain.metagraph import Metagraph
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.core.settings import NeuronSettings, load_settings
from subnetkit.miner.neuron import MinerNeuron
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from subnetkit.validator.client import MinerClient, QueryResult, Target
from subnetkit.validator.identity import IdentityEndpoint
from subnetkit.validator.neuron import ValidatorNeuron
from subnetkit.wire import tls
from tests.neurons.support import drive, running_validator, settings_for

pytestmark = pytest.mark.timeout(90)

ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
SYNC_TIMEOUT = 20.0
MUTUAL = {"axon.tls": True, "axon.require_client_tls": True}
VALIDATOR = {"axon.tls": True, "validator.session": True}


async def ask(
    key: Signer, miner: MinerNeuron, certificate: tls.HotkeyCertificate | None
) -> QueryResult[Any]:
    """One query to ``miner`` as ``key``, presenting ``certificate`` (session mode if given)."""
    assert miner.server is not None and miner.certificate is not None
    target = Target(
        miner.hotkey, "127.0.0.1", miner.server.port, tls_fingerprint=miner.certificate.fingerprint
    )
    session = certificate is not None
    async with MinerClient(key, tls_certificate=certificate, session=session) as client:
        return await client.query_one(target, ECHO, echo_pb2.EchoRequest(text="hi"), 5)


async def synced(miner: MinerNeuron, until: Callable[[Metagraph], bool]) -> None:
    """Wait (bounded) until the miner's metagraph shows ``until`` and its trusted certificates
    follow that metagraph (its sync task picks up the block that changed it)."""
    assert miner.validator_certs is not None
    async with asyncio.timeout(SYNC_TIMEOUT):
        seen = miner.sync.head
        while not until(miner.sync.metagraph):  # a block's refresh comes before its head
            seen = await miner.sync.wait_for_head(seen)
    await miner.validator_certs.wait_synced(miner.sync.metagraph.block, timeout=SYNC_TIMEOUT)


def fingerprint_on_chain(hotkey: str, fingerprint: bytes) -> Callable[[Metagraph], bool]:
    def shows(mg: Metagraph) -> bool:
        uid = mg.uid_of(hotkey)
        return uid is not None and mg.axons[uid].certificate_fingerprint == fingerprint

    return shows


def served_ok(miner: MinerNeuron) -> float:
    value = miner.registry.get_sample_value(
        "subnetkit_miner_requests_total",
        {"synapse": "Echo", "caller": "validator", "status": "OK"},
    )
    return value or 0.0


@contextlib.asynccontextmanager
async def miner(
    h: ChainHarness, settings: NeuronSettings, key: Signer
) -> AsyncIterator[MinerNeuron]:
    async with MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client) as neuron:
        yield neuron


async def test_session_mode_refuses_strangers_and_follows_a_reissued_certificate(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = chain
    netuid, _ = await h.subnet(max_allowed_validators=2)
    mutual_key, plain_key, tls_key = await h.register(netuid, 3)
    vkey, stranger = await h.register(netuid, 2, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)  # permits: the owner's hotkey and the validator
    state = tmp_path / "state"
    vsettings = settings_for(h, netuid, state, **VALIDATOR)
    async with (
        miner(h, settings_for(h, netuid, state, **MUTUAL), mutual_key) as mutual,
        miner(h, settings_for(h, netuid, state), plain_key) as plain,
        miner(h, settings_for(h, netuid, state, **{"axon.tls": True}), tls_key) as tls_only,
    ):
        assert mutual.trusted is not None and mutual.server is not None
        async with running_validator(h, vsettings, EchoValidator(), vkey) as validator:
            old_cert = validator.certificate
            assert old_cert is not None
            await synced(mutual, fingerprint_on_chain(vkey.ss58, old_cert.fingerprint))
            assert list(mutual.trusted.hotkeys()) == [vkey.ss58]
            trusted = "subnetkit_miner_trusted_client_certificates"
            assert mutual.registry.get_sample_value(trusted) == 1

            # (a) Every miner answers the session validator: the mutual-TLS one in session
            # mode (no replay-cache entry: nothing was signed), the others signed.
            await drive(h, [validator], 2)
            assert validator.registry.get_sample_value("subnetkit_validator_answered") == 3
            assert served_ok(mutual) >= 2
            assert mutual.server.nonce_cache.live(vkey.ss58) == 0
            # ... and on one session stream, which stays open between rounds
            streams = "subnetkit_miner_session_streams"
            assert mutual.registry.get_sample_value(streams) == 1
            for other in (plain, tls_only):
                assert other.server is not None and other.server.nonce_cache.live(vkey.ss58) > 0
            mg = validator.sync.metagraph
            assert mg.axons[mg.uid_of(vkey.ss58)].protocol == endpoints.IDENTITY  # type: ignore[index]
            assert {t.hotkey: t.session for t in validator.pick_miners(mg)} == {
                mutual_key.ss58: True,
                tls_key.ss58: False,
                plain_key.ss58: False,
            }

            # (b) A registered key without a permit announces a valid certificate of its
            # own: never trusted, refused in the handshake; the miner serves on.
            stranger_cert = tls.issue(stranger)
            stranger_endpoint = IdentityEndpoint(stranger_cert, "127.0.0.1", 0)
            await stranger_endpoint.start()
            try:
                announced = endpoints.Endpoint(
                    "127.0.0.1",
                    stranger_endpoint.port,
                    stranger_cert.fingerprint,
                    endpoints.IDENTITY,
                )
                await endpoints.serve(h.client, stranger, netuid, announced)
                await synced(mutual, fingerprint_on_chain(stranger.ss58, announced.fingerprint))
                assert list(mutual.trusted.hotkeys()) == [vkey.ss58]
                for cert in (stranger_cert, None):  # its own certificate, or none at all
                    refused = await ask(stranger, mutual, cert)
                    assert refused.error is not None
                    assert refused.error.status == grpc.StatusCode.UNAVAILABLE
            finally:
                await stranger_endpoint.stop(0)
            assert (await ask(vkey, mutual, old_cert)).ok
            assert stranger.ss58 not in {
                t.hotkey for t in validator.pick_miners(validator.sync.metagraph)
            }

        # (c) The validator comes back with a new certificate: announced on chain, trusted
        # after the miner's next refresh, and the old one refused in the handshake.
        for name in ("tls-cert.pem", "tls-key.pem"):
            (validator.state_dir / name).unlink()
        async with running_validator(h, vsettings, EchoValidator(), vkey) as validator:
            new_cert = validator.certificate
            assert new_cert is not None and new_cert.fingerprint != old_cert.fingerprint
            await synced(mutual, fingerprint_on_chain(vkey.ss58, new_cert.fingerprint))
            assert mutual.trusted.fingerprint_of(vkey.ss58) == new_cert.fingerprint
            served = served_ok(mutual)
            await drive(h, [validator], 1)
            assert served_ok(mutual) > served
            stale = await ask(vkey, mutual, old_cert)
            assert stale.error is not None and stale.error.status == grpc.StatusCode.UNAVAILABLE
            assert (await ask(vkey, mutual, new_cert)).ok

        # A validator without a TLS identity is told why such miners will refuse it.
        plain_settings = settings_for(h, netuid, state)
        async with ValidatorNeuron(
            EchoValidator(), plain_settings, signer=stranger, chain=h.client
        ) as bare:
            assert bare.identity is None
        assert any(
            "1 miner(s) on this subnet require client TLS" in r.message for r in caplog.records
        )


async def test_validator_certificate_served_and_announced_once(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    [vkey] = await h.register(netuid, 1)
    settings = settings_for(h, netuid, tmp_path / "state", **VALIDATOR)
    async with ValidatorNeuron(EchoValidator(), settings, signer=vkey, chain=h.client) as v:
        assert v.certificate is not None and v.identity is not None
        mg = await h.client.metagraph(netuid)
        axon = mg.axons[mg.uid_of(vkey.ss58)]  # type: ignore[index]
        assert axon.certificate_fingerprint == v.certificate.fingerprint
        assert axon.port == v.identity.port and not endpoints.serves_synapses(axon)
        pem = await tls.fetch_certificate("127.0.0.1", axon.port, axon.certificate_fingerprint)
        assert tls.bound_hotkey(pem) == vkey.ss58
    # Restarted on the same port with the same certificate: nothing new to announce.
    pinned = settings_for(h, netuid, tmp_path / "state", **VALIDATOR, **{"axon.port": axon.port})
    head = int(h.service.head.number)
    async with ValidatorNeuron(EchoValidator(), pinned, signer=vkey, chain=h.client) as v:
        assert v.identity is not None and v.identity.port == axon.port
    assert int(h.service.head.number) == head  # automine: an extrinsic would be a block


def test_client_tls_settings_need_tls(tmp_path: Path) -> None:
    base = {"state_dir": str(tmp_path), "device": "cpu"}
    settings = load_settings(None, {**base, "axon.require_client_tls": True})
    with pytest.raises(ConfigError, match=r"axon\.require_client_tls needs axon\.tls"):
        MinerNeuron(EchoMiner(), settings, signer=Signer.generate())
    settings = load_settings(None, {**base, "validator.session": True})
    with pytest.raises(ConfigError, match=r"validator\.session needs axon\.tls"):
        ValidatorNeuron(EchoValidator(), settings, signer=Signer.generate())
