"""The hotkey-signed commands from the CLI against a real chain: ``axon set``, ``set-weights``,
``commit-weights`` and ``reveal-weights``.

Each write is checked in the chain's state (read through the service); each refusal the chain
would give is one line with its code, found from public state before anything is signed (the
chain's fee records show nothing was submitted).
"""

from __future__ import annotations

from typing import Any

from subnetkit.core.keys import Signer
from subnetkit.testing import TAO, ChainHarness
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import one_error_line, one_json


def _state(chain: ThreadedChain, read: Any) -> Any:
    assert chain.harness is not None
    return chain.call(chain.harness.service.node.query(0, lambda state, _b, _h: read(state)))


def _validator_subnet(chain: ThreadedChain, name: str, **subnet: Any) -> tuple[int, Signer, str]:
    """A new subnet of Alice's (``subnet``: ``commit_reveal`` and hyperparameters) with a fresh
    hotkey as uid 1 (returned with its dev URI, for ``--uri``) and a miner as uid 2."""
    uri = f"//{name}-{Signer.generate().ss58[:8]}"
    hotkey = Signer.from_uri(uri)

    async def setup(h: ChainHarness) -> int:
        netuid, _ = await h.subnet(**subnet)
        await h.client.burned_register(h.alice, netuid, hotkey.ss58)
        await h.register(netuid, 1)
        return netuid

    return chain.fresh(setup), hotkey, uri


async def _permit(h: ChainHarness, netuid: int, hotkey: Signer) -> None:
    """Stake on ``hotkey`` and run an epoch: it earns a validator permit."""
    await h.client.add_stake(h.alice, netuid, hotkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)


def _refused(
    cli: Cli, chain: ThreadedChain, args: tuple[str, ...], code: str, exit_code: int
) -> str:
    """Refused with one line, and nothing reached the chain: the head did not move (the test
    chain makes a block for every extrinsic it is sent)."""
    assert chain.harness is not None
    head = chain.harness.service.head.number
    line = one_error_line(cli(*args), code, exit_code)
    assert chain.harness.service.head.number == head
    return line


def test_axon_set_publishes_the_endpoint_within_the_rate_limit(
    cli: Cli, chain: ThreadedChain
) -> None:
    h = chain.harness
    assert h is not None
    netuid, hotkey, uri = _validator_subnet(chain, "axon", serving_rate_limit=50)
    n = ("axon", "set", "--netuid", str(netuid), "--uri", uri)
    doc = one_json(cli(*n, "--ip", "127.0.0.1", "--port", "8099", "--format", "json"))
    neuron = chain.call(h.client.neuron(netuid, hotkey=hotkey.ss58))
    assert neuron is not None
    assert (neuron.endpoint.ip, neuron.endpoint.port) == ("127.0.0.1", 8099)
    assert neuron.endpoint.block == doc["block"]

    line = _refused(cli, chain, (*n, "--ip", "127.0.0.2", "--port", "8099"), "rate_limited", 5)
    assert f"until block {doc['block'] + 50}" in line
    _refused(cli, chain, (*n, "--ip", "localhost", "--port", "1"), "config", 2)
    # typer's own checks (a range, a missing option) also answer in one line
    line = _refused(cli, chain, (*n, "--ip", "::1", "--port", "0"), "config", 2)
    assert "'--port'" in line and "subnetkit axon set --help" in line
    _refused(cli, chain, n, "config", 2)
    _refused(cli, chain, (*n, "--ip", "::1", "--port", "1", "--tls-fingerprint", "ab"), "config", 2)
    stranger = ("axon", "set", "--netuid", str(netuid), "--uri", "//cli-unregistered")
    _refused(cli, chain, (*stranger, "--ip", "::1", "--port", "1"), "not_registered", 6)


def test_set_weights_checks_permit_rate_and_vector_first(cli: Cli, chain: ThreadedChain) -> None:
    netuid, validator, uri = _validator_subnet(chain, "weights", weights_rate_limit=0)
    n = ("set-weights", "--netuid", str(netuid), "--uri", uri)

    line = _refused(cli, chain, (*n, "--weight", "2=1"), "no_validator_permit", 5)
    assert "uid 1" in line
    chain.fresh(lambda h: _permit(h, netuid, validator))
    for bad in ("2=-1", "two=1", "2", "2=nan"):
        _refused(cli, chain, (*n, "--weight", bad), "config", 2)
    _refused(cli, chain, (*n, "--weight", "9=1"), "uid_out_of_range", 5)
    _refused(cli, chain, (*n, "--weight", "2=1", "--weight", "2=3"), "config", 2)

    doc = one_json(cli(*n, "--weight", "2=0.5", "--weight", "0=0.25", "--format", "json"))
    assert doc["weights_u16"] == [32768, 65535]  # max-upscaled, as the chain stores them
    row = _state(chain, lambda s: s.get("weights", (netuid, 1)))
    assert tuple(row) == ((0, 32768), (2, 65535))
    chain.fresh(
        lambda h: h.client.sudo_set_hyperparameter(h.alice, netuid, "weights_rate_limit", 100)
    )
    line = _refused(cli, chain, (*n, "--weight", "2=1"), "rate_limited", 5)
    assert f"weights last set at block {doc['block']}" in line
    _refused(cli, chain, ("commit-weights", *n[1:], "--weight", "2=1"), "commit_reveal_disabled", 5)


def test_commit_then_reveal_sets_the_committed_weights(cli: Cli, chain: ThreadedChain) -> None:
    h = chain.harness
    assert h is not None
    netuid, validator, uri = _validator_subnet(
        chain, "commit", commit_reveal=True, weights_rate_limit=0
    )
    chain.fresh(lambda h: _permit(h, netuid, validator))
    n = ("--netuid", str(netuid), "--uri", uri)

    _refused(cli, chain, ("set-weights", *n, "--weight", "2=1"), "commit_reveal_enabled", 5)
    doc = one_json(cli("commit-weights", *n, "--weight", "2=1", "--format", "json"))
    text = cli("commit-weights", *n, "--weight", "2=3")
    assert text.code == 0, text.err
    assert "subnetkit reveal-weights --netuid" in text.out and len(text.out.splitlines()) == 1
    early = cli("reveal-weights", *n, "--weight", "2=1", "--salt", doc["salt"])
    one_error_line(early, "reveal_too_early", 5)  # the chain's answer: timing is not public
    chain.call(h.produce(doc["reveal_from_block"] - h.service.head.number))
    _refused(cli, chain, ("reveal-weights", *n, "--weight", "2=1", "--salt", "xyz"), "config", 2)
    revealed = one_json(cli("reveal-weights", *n, "--weight", "2=1", "--salt", doc["salt"],
                            "--format", "json"))  # fmt: skip
    assert revealed["weights_u16"] == [65535]
    assert tuple(_state(chain, lambda s: s.get("weights", (netuid, 1)))) == ((2, 65535),)


def test_axon_set_announces_what_a_miner_announces() -> None:
    from subnetkit.chain.endpoints import SIGNED
    from subnetkit.cli.axon import DEFAULT_PROTOCOL

    assert DEFAULT_PROTOCOL == SIGNED
