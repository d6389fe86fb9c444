"""Per-synapse caps set in the neuron's TOML file (``[miner.synapse_caps.<Synapse>]``) reach
a real miner server and bind that synapse; a misspelt field or synapse is one ConfigError
naming the setting."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.core.settings import load_settings
from subnetkit.miner import Limits, MinerServer
from subnetkit.miner.neuron import MinerNeuron, limits_from_settings
from subnetkit.subnets.echo.miner import EchoMiner
from tests.miner.fakes import ScriptedMiner
from tests.miner.test_hostile import echo, stream_call
from tests.wire.raw import ECHO, ECHO_STREAM

S = grpc.StatusCode


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "neuron.toml"
    path.write_text(text)
    return path


async def test_caps_from_the_settings_file_bind_their_synapse(
    tmp_path: Path, alice: Signer, bob: Signer
) -> None:
    path = settings_file(
        tmp_path,
        "[miner.synapse_caps.Echo]\nmax_deadline_s = 0.3\n\n"
        "[miner.synapse_caps.EchoStream]\nmax_stream_chunks = 3\n",
    )
    limits = limits_from_settings(load_settings(path).miner)
    async with (
        MinerServer(ScriptedMiner(), bob, limits=limits) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        # the caller's 600 s deadline is cut to the 0.3 s the file sets for Echo
        reply = await echo(server, alice, "sleep", timeout=600)
        assert reply.code == S.DEADLINE_EXCEEDED and "budget of 0.300 s" in reply.details
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for chunk in stream_call(channel, server, alice, 10, 5):
                got.append(chunk)
        assert len(got) == 3 and info.value.code() == S.RESOURCE_EXHAUSTED
        # fields the file leaves out keep the server-wide caps
        assert server._pipeline.budget_caps[ECHO_STREAM] == Limits().max_stream_s
        assert server._pipeline.budget_caps[ECHO] == 0.3
        assert (await echo(server, alice)).code == S.OK


def test_a_misspelt_cap_field_is_an_error_naming_it(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[miner.synapse_caps.Echo]\nmax_deadline = 5\n")
    with pytest.raises(
        ConfigError, match=r"unknown setting 'miner\.synapse_caps\.Echo\.max_deadline'"
    ):
        load_settings(path)


def test_an_invalid_cap_is_an_error_naming_it(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[miner.synapse_caps.EchoStream]\nmax_stream_chunks = 0\n")
    with pytest.raises(ConfigError, match=r"miner\.synapse_caps\.EchoStream\.max_stream_chunks"):
        load_settings(path)


async def test_caps_for_a_synapse_the_miner_does_not_serve_stop_the_neuron(
    tmp_path: Path, bob: Signer
) -> None:
    """Refused when the neuron is built, before any chain call: a misspelt synapse would
    otherwise keep the server-wide caps unnoticed."""
    path = settings_file(tmp_path, "[miner.synapse_caps.Ech0]\nmax_deadline_s = 5\n")
    settings = load_settings(path, {"state_dir": str(tmp_path / "state"), "axon.port": 0})
    with pytest.raises(ConfigError) as info:
        MinerNeuron(EchoMiner(), settings, signer=bob)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "miner.synapse_caps.Ech0: this miner serves no such synapse; it serves: Echo, EchoStream"
    )
