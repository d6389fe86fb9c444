"""``subnetkit register`` and ``subnetkit metagraph`` against a real chain service.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import new_subnet, one_error_line, one_json


def test_register_then_metagraph_shows_the_neuron(cli: Cli, chain: ThreadedChain) -> None:
    netuid = new_subnet(cli)
    hotkey = Signer.generate().ss58
    bob = Signer.from_uri("//Bob").ss58
    balance = chain.call(chain.harness.client.balance(bob))
    head = chain.harness.service.head.number
    doc = one_json(
        cli(
            "register",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--uri",
            "//Bob",
            "--format",
            "json",
        )
    )
    assert doc["uid"] == 1
    assert chain.call(chain.harness.client.uid_for_hotkey(netuid, hotkey)) == 1
    fee = chain.call(chain.harness.fees_paid(bob, head))
    assert chain.call(chain.harness.client.balance(bob)) == balance - doc["burn_rao"] - fee

    mg = one_json(cli("metagraph", str(netuid), "--format", "json"))
    assert mg["n"] == 2
    assert mg["neurons"][1]["hotkey"] == hotkey
    assert mg["neurons"][1]["coldkey"] == bob
    assert mg["block"] == chain.harness.service.head.number

    with_w = one_json(cli("metagraph", str(netuid), "--weights", "--format", "json"))
    assert with_w["weights_u16"] == [[0, 0], [0, 0]]

    text = cli("metagraph", str(netuid))
    assert text.code == 0
    assert f"subnet {netuid} metagraph" in text.out and hotkey[:6] in text.out

    one_error_line(
        cli("register", "--netuid", str(netuid), "--hotkey", hotkey, "--uri", "//Bob"),
        "already_registered",
        5,
    )
