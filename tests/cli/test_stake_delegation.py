"""Delegation from the CLI: ``stake add --hotkey`` nominates another coldkey's validator and
``stake list`` shows the nominator's share; root stake is listed as netuid 0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from subnetkit.core.keys import Signer, dev_signer
from tests.cli.conftest import Cli, ThreadedChain, dev_chain
from tests.cli.support import one_error_line, one_json


@pytest.fixture(scope="module")
def mech_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedChain]:
    with dev_chain(
        tmp_path_factory, "cli-mech", epoch_schedule="dynamic", root=True, delegation=True
    ) as threaded:
        yield threaded


def test_nominator_stake_grows_and_is_listed_with_its_share(
    mech_chain: ThreadedChain, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(mech_chain, capsys)
    harness = mech_chain.harness
    assert harness is not None
    client = harness.client
    netuid, _ = mech_chain.call(harness.subnet(weights_rate_limit=0))
    validator = Signer.generate()
    mech_chain.call(client.burned_register(dev_signer("dave"), netuid, validator.ss58))
    miner = Signer.generate()
    mech_chain.call(client.burned_register(dev_signer("bob"), netuid, miner.ss58))
    for uri, amount in (("//Dave", "30"), ("//Eve", "10")):
        one_json(
            cli(
                "stake", "add", "--netuid", str(netuid), "--hotkey", validator.ss58,
                "--amount", amount, "--uri", uri, "--format", "json",
            )
        )  # fmt: skip
    one_json(
        cli(
            "stake", "add", "--netuid", "0", "--hotkey", validator.ss58, "--amount", "5",
            "--uri", "//Ferdie", "--format", "json",
        )
    )  # fmt: skip
    eve = dev_signer("eve").ss58
    before = one_json(cli("stake", "list", "--coldkey", eve, "--format", "json"))
    (row,) = [s for s in before["stakes"] if s["netuid"] == netuid]
    assert row["role"] == "nominator" and row["delegate_take"] == 11796
    assert 0 < row["share"] < 0.5  # 10 of the ~40 TAO staked on the validator

    mech_chain.call(harness.produce_until_epoch(netuid))  # permits
    mech_chain.call(client.set_weights(validator, netuid, [2], [65535]))
    for _ in range(2):
        mech_chain.call(harness.produce_until_epoch(netuid))
    after = one_json(cli("stake", "list", "--coldkey", eve, "--format", "json"))
    (grown,) = [s for s in after["stakes"] if s["netuid"] == netuid]
    assert grown["alpha"] > row["alpha"]  # paid as a nominator, without doing anything

    root = one_json(cli("stake", "list", "--coldkey", dev_signer("ferdie").ss58, "--netuid", "0",
                        "--format", "json"))  # fmt: skip
    assert [(s["netuid"], s["hotkey"], s["alpha"]) for s in root["stakes"]] == [
        (0, validator.ss58, 5_000_000_000)
    ]
    text = cli("stake", "list", "--coldkey", eve)
    assert text.code == 0 and "nominator" in text.out


def test_mechanism_flags_need_a_dev_chain(cli: Cli) -> None:
    result = cli("chain", "start", "--root", "--port", "0", endpoint=False)
    one_error_line(result, "config", 2)
