"""MinerNeuron's default policy from the metagraph, its hooks, and its metrics endpoint.

Real chain, real signed gRPC: each caller below is a real key querying a real miner server.
"""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.miner.neuron import MinerNeuron
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.testing import TAO, ChainHarness
from subnetkit.validator.client import MinerClient, Target
from tests.neurons.support import settings_for

pytestmark = pytest.mark.timeout(60)

ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]


async def _ask(caller: Signer, miner: MinerNeuron) -> tuple[grpc.StatusCode, str]:
    assert miner.server is not None
    async with MinerClient(caller) as client:
        result = await client.query_one(
            Target(miner.hotkey, "127.0.0.1", miner.server.port),
            ECHO,
            echo_pb2.EchoRequest(text="hi"),
            timeout=5,
        )
    if result.error is None:
        return grpc.StatusCode.OK, ""
    return result.error.status, result.error.message


async def test_default_blacklist_and_priority_follow_the_metagraph(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    netuid, _ = await h.subnet(tempo=5, max_allowed_validators=3)
    [miner_key] = await h.register(netuid, 1)
    big, small, none = await h.register(netuid, 3, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, big.ss58, 100 * TAO)
    await h.client.add_stake(h.charlie, netuid, small.ss58, 5 * TAO)
    await h.produce_until_epoch(netuid)  # permits: the 3 largest stakes (owner, big, small)
    settings = settings_for(h, netuid, tmp_path / "state", **{"miner.min_stake": 20})
    async with MinerNeuron(EchoMiner(), settings, signer=miner_key, chain=h.client) as miner:
        assert await _ask(big, miner) == (grpc.StatusCode.OK, "")
        status, message = await _ask(Signer.generate(), miner)
        assert status == grpc.StatusCode.PERMISSION_DENIED and "not registered" in message
        status, message = await _ask(none, miner)
        assert status == grpc.StatusCode.PERMISSION_DENIED and "no validator permit" in message
        status, message = await _ask(small, miner)
        assert status == grpc.StatusCode.PERMISSION_DENIED and "below" in message
        assert miner.priority(big.ss58) > miner.priority(small.ss58) > 0
        assert miner.priority(Signer.generate().ss58) == 0.0


class OpenEchoMiner(EchoMiner):
    """A subnet that serves anyone: its own blacklist replaces the neuron's default."""

    def blacklist(self, caller: str) -> str | None:
        return None


async def test_miner_class_hook_overrides_the_default(chain: ChainHarness, tmp_path: Path) -> None:
    h = chain
    netuid, _ = await h.subnet()
    [miner_key] = await h.register(netuid, 1)
    settings = settings_for(h, netuid, tmp_path / "state")
    async with MinerNeuron(OpenEchoMiner(), settings, signer=miner_key, chain=h.client) as miner:
        assert await _ask(Signer.generate(), miner) == (grpc.StatusCode.OK, "")


async def test_endpoint_on_chain_and_metrics_served(chain: ChainHarness, tmp_path: Path) -> None:
    h = chain
    netuid, _ = await h.subnet()
    [miner_key] = await h.register(netuid, 1)
    settings = settings_for(
        h, netuid, tmp_path / "state", **{"metrics.port": 0, "axon.external_port": 4242}
    )
    async with MinerNeuron(EchoMiner(), settings, signer=miner_key, chain=h.client) as miner:
        mg = await h.client.metagraph(netuid)
        axon = mg.axons[mg.uid_of(miner_key.ss58)]
        assert (axon.ip, axon.port) == ("127.0.0.1", 4242)  # what it announces, not what it binds
        await _ask(Signer.generate(), miner)  # refused, but counted
        assert miner.metrics_endpoint is not None
        url = f"http://127.0.0.1:{miner.metrics_endpoint.port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        assert b"subnetkit_miner_requests_total" in body
        assert b'status="PERMISSION_DENIED"' in body
    assert miner.metrics_endpoint is None  # stopped on shutdown


async def test_wildcard_bind_without_external_ip_is_refused(
    chain: ChainHarness, tmp_path: Path
) -> None:
    settings = settings_for(chain, 1, tmp_path, **{"axon.host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="external ip"):
        MinerNeuron(EchoMiner(), settings, signer=Signer.generate(), chain=chain.client)
    # With an external address the same bind is fine to announce.
    routed = {"axon.host": "0.0.0.0", "axon.external_ip": "127.0.0.1"}
    ok = settings_for(chain, 1, tmp_path, **routed)
    MinerNeuron(EchoMiner(), ok, signer=Signer.generate(), chain=chain.client)
