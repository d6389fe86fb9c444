"""``subnetkit subnet create|list|show|hyperparams|set`` against a real chain service.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import new_subnet, one_error_line, one_json


def test_subnet_create_list_show_hyperparams(cli: Cli, chain: ThreadedChain) -> None:
    owner_hotkey = Signer.generate().ss58
    created = one_json(
        cli("subnet", "create", "--hotkey", owner_hotkey, "--uri", "//Charlie", "--format", "json")
    )
    netuid = created["netuid"]
    info = chain.call(chain.harness.client.subnet_info(netuid))
    assert info.owner_hotkey == owner_hotkey
    assert info.owner_coldkey == Signer.from_uri("//Charlie").ss58
    assert created["lock_cost_rao"] > 0

    listed = one_json(cli("subnet", "list", "--format", "json"))["subnets"]
    assert netuid in [s["netuid"] for s in listed]

    shown = one_json(cli("subnet", "show", str(netuid), "--format", "json"))
    assert shown["owner_hotkey"] == owner_hotkey
    assert shown["n"] == 1
    assert shown["block"] == chain.harness.service.head.number

    hps = one_json(cli("subnet", "hyperparams", str(netuid), "--format", "json"))
    by_name = {h["name"]: h for h in hps["hyperparameters"]}
    assert by_name["tempo"]["value"] == info.hyperparameters["tempo"]
    assert by_name["kappa"]["settable_by"] == "sudo"
    assert by_name["immunity_period"]["settable_by"] == "owner"

    text = cli("subnet", "list")
    assert text.code == 0 and "netuid" in text.out
    text = cli("subnet", "show", str(netuid))
    assert text.code == 0 and owner_hotkey in text.out
    text = cli("subnet", "hyperparams", str(netuid))
    assert text.code == 0 and "immunity_period" in text.out


def test_subnet_set_as_owner_and_as_sudo(cli: Cli, chain: ThreadedChain) -> None:
    netuid = new_subnet(cli, "//Charlie")
    doc = one_json(
        cli(
            "subnet",
            "set",
            str(netuid),
            "immunity_period",
            "77",
            "--uri",
            "//Charlie",
            "--format",
            "json",
        )
    )
    assert doc["value"] == 77
    doc = one_json(
        cli("subnet", "set", str(netuid), "kappa", "40000", "--uri", "alice", "--format", "json")
    )
    hps = chain.call(chain.harness.client.hyperparameters(netuid))
    assert hps["immunity_period"] == 77
    assert hps["kappa"] == 40000
    assert doc["block"] == chain.harness.service.head.number


def test_subnet_set_refusals_are_the_chains_typed_errors(cli: Cli, chain: ThreadedChain) -> None:
    netuid = new_subnet(cli, "//Charlie")
    before = chain.call(chain.harness.client.hyperparameters(netuid))

    line = one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "99999", "--uri", "//Alice"),
        "hyperparameter_out_of_range",
        5,
    )
    assert "kappa=99999" in line and "[0, 65535]" in line
    one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "100", "--uri", "//Charlie"), "not_sudo", 5
    )
    one_error_line(
        cli("subnet", "set", str(netuid), "tempo", "5", "--uri", "//Charlie"),
        "hyperparameter_out_of_range",
        5,
    )
    one_error_line(
        cli("subnet", "set", str(netuid), "tempo", "500", "--uri", "//Dave"), "not_owner", 5
    )
    one_error_line(
        cli("subnet", "set", str(netuid), "no_such_knob", "1", "--uri", "//Alice"),
        "unknown_hyperparameter",
        5,
    )
    one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "half", "--uri", "//Alice"), "config", 2
    )
    one_error_line(cli("subnet", "show", "999"), "subnet_not_found", 5)
    assert chain.call(chain.harness.client.hyperparameters(netuid)) == before
