"""``subnetkit subnet|register|stake|transfer|metagraph`` against a real chain service.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from subnetkit.cli.parsing import parse_hyperparameter_value, parse_tao
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, Result, ThreadedChain

TAO = 1_000_000_000


def _json(result: Result) -> dict:
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == 1, result.out
    return json.loads(lines[0])


def _one_error_line(result: Result, code: str, exit_code: int) -> str:
    assert result.code == exit_code, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error[{code}]: "), lines[0]
    assert "Traceback" not in result.err
    return lines[0]


def _new_subnet(cli: Cli, uri: str = "//Alice") -> int:
    doc = _json(
        cli(
            "subnet", "create", "--hotkey", Signer.generate().ss58, "--uri", uri, "--format", "json"
        )
    )
    return int(doc["netuid"])


# -- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rao"),
    [
        ("1", TAO),
        ("1.5", 1_500_000_000),
        ("0.000000001", 1),
        (" 2.25 ", 2_250_000_000),
        ("1e3", 1000 * TAO),
        ("0.1", 100_000_000),
    ],
)
def test_parse_tao_is_exact_to_the_rao(text: str, rao: int) -> None:
    assert parse_tao(text) == rao


@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", "1e-10", "0.0000000001", "1e30"])
def test_parse_tao_refuses_what_is_not_a_rao_amount(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_tao(text)


def test_hyperparameter_values_are_integers_or_flags() -> None:
    assert parse_hyperparameter_value("tempo", "99") == 99
    assert parse_hyperparameter_value("x", "0x10") == 16
    assert parse_hyperparameter_value("x", "true") == 1
    assert parse_hyperparameter_value("x", "False") == 0
    with pytest.raises(ConfigError, match="not an integer"):
        parse_hyperparameter_value("kappa", "0.5")


# -- subnets --------------------------------------------------------------------------------------
def test_subnet_create_list_show_hyperparams(cli: Cli, chain: ThreadedChain) -> None:
    owner_hotkey = Signer.generate().ss58
    created = _json(
        cli("subnet", "create", "--hotkey", owner_hotkey, "--uri", "//Charlie", "--format", "json")
    )
    netuid = created["netuid"]
    info = chain.call(chain.harness.client.subnet_info(netuid))
    assert info.owner_hotkey == owner_hotkey
    assert info.owner_coldkey == Signer.from_uri("//Charlie").ss58
    assert created["lock_cost_rao"] > 0

    listed = _json(cli("subnet", "list", "--format", "json"))["subnets"]
    assert netuid in [s["netuid"] for s in listed]

    shown = _json(cli("subnet", "show", str(netuid), "--format", "json"))
    assert shown["owner_hotkey"] == owner_hotkey
    assert shown["n"] == 1
    assert shown["block"] == chain.harness.service.head.number

    hps = _json(cli("subnet", "hyperparams", str(netuid), "--format", "json"))
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
    netuid = _new_subnet(cli, "//Charlie")
    doc = _json(
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
    doc = _json(
        cli("subnet", "set", str(netuid), "kappa", "40000", "--uri", "alice", "--format", "json")
    )
    hps = chain.call(chain.harness.client.hyperparameters(netuid))
    assert hps["immunity_period"] == 77
    assert hps["kappa"] == 40000
    assert doc["block"] == chain.harness.service.head.number


def test_subnet_set_refusals_are_the_chains_typed_errors(cli: Cli, chain: ThreadedChain) -> None:
    netuid = _new_subnet(cli, "//Charlie")
    before = chain.call(chain.harness.client.hyperparameters(netuid))

    line = _one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "99999", "--uri", "//Alice"),
        "hyperparameter_out_of_range",
        5,
    )
    assert "kappa=99999" in line and "[0, 65535]" in line
    _one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "100", "--uri", "//Charlie"), "not_sudo", 5
    )
    _one_error_line(
        cli("subnet", "set", str(netuid), "tempo", "5", "--uri", "//Charlie"),
        "hyperparameter_out_of_range",
        5,
    )
    _one_error_line(
        cli("subnet", "set", str(netuid), "tempo", "500", "--uri", "//Dave"), "not_owner", 5
    )
    _one_error_line(
        cli("subnet", "set", str(netuid), "no_such_knob", "1", "--uri", "//Alice"),
        "unknown_hyperparameter",
        5,
    )
    _one_error_line(
        cli("subnet", "set", str(netuid), "kappa", "half", "--uri", "//Alice"), "config", 2
    )
    _one_error_line(cli("subnet", "show", "999"), "subnet_not_found", 5)
    assert chain.call(chain.harness.client.hyperparameters(netuid)) == before


# -- registration, metagraph ------------------------------------------------------------------
def test_register_then_metagraph_shows_the_neuron(cli: Cli, chain: ThreadedChain) -> None:
    netuid = _new_subnet(cli)
    hotkey = Signer.generate().ss58
    bob = Signer.from_uri("//Bob").ss58
    balance = chain.call(chain.harness.client.balance(bob))
    doc = _json(
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
    assert chain.call(chain.harness.client.balance(bob)) == balance - doc["burn_rao"]

    mg = _json(cli("metagraph", str(netuid), "--format", "json"))
    assert mg["n"] == 2
    assert mg["neurons"][1]["hotkey"] == hotkey
    assert mg["neurons"][1]["coldkey"] == bob
    assert mg["block"] == chain.harness.service.head.number

    with_w = _json(cli("metagraph", str(netuid), "--weights", "--format", "json"))
    assert with_w["weights_u16"] == [[0, 0], [0, 0]]

    text = cli("metagraph", str(netuid))
    assert text.code == 0
    assert f"subnet {netuid} metagraph" in text.out and hotkey[:6] in text.out

    _one_error_line(
        cli("register", "--netuid", str(netuid), "--hotkey", hotkey, "--uri", "//Bob"),
        "already_registered",
        5,
    )


# -- stake -----------------------------------------------------------------------------------------
def test_stake_add_list_remove_round_trip(cli: Cli, chain: ThreadedChain) -> None:
    netuid = _new_subnet(cli)
    hotkey = Signer.generate().ss58
    dave = Signer.from_uri("//Dave").ss58
    _json(
        cli(
            "register",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    start = chain.call(chain.harness.client.balance(dave))

    added = _json(
        cli(
            "stake",
            "add",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--amount",
            "2.5",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert added["tao_rao"] == 2_500_000_000
    on_chain = chain.call(chain.harness.client.stake(netuid, hotkey, dave))
    assert added["alpha"] == added["stake_alpha"] == on_chain > 0
    assert chain.call(chain.harness.client.balance(dave)) == start - 2_500_000_000

    listed = _json(
        cli("stake", "list", "--netuid", str(netuid), "--uri", "//Dave", "--format", "json")
    )
    assert listed["coldkey"] == dave
    assert [(s["hotkey"], s["alpha"]) for s in listed["stakes"]] == [(hotkey, on_chain)]
    everywhere = _json(cli("stake", "list", "--coldkey", dave, "--format", "json"))
    assert (netuid, hotkey) in [(s["netuid"], s["hotkey"]) for s in everywhere["stakes"]]
    text = cli("stake", "list", "--netuid", str(netuid), "--uri", "//Dave")
    assert text.code == 0 and hotkey in text.out

    half = on_chain // 2
    part = _json(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--amount",
            f"{half / TAO:.9f}",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert part["alpha"] == half
    assert chain.call(chain.harness.client.stake(netuid, hotkey, dave)) == on_chain - half
    rest = _json(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--all",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert rest["alpha"] == on_chain - half and rest["stake_alpha"] == 0
    assert chain.call(chain.harness.client.stake(netuid, hotkey, dave)) == 0
    back = part["tao_rao"] + rest["tao_rao"]
    assert back > 0  # (emission flows into the pool between blocks, so the price moves)
    assert chain.call(chain.harness.client.balance(dave)) == start - 2_500_000_000 + back

    _one_error_line(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--all",
            "--uri",
            "//Dave",
        ),
        "insufficient_stake",
        5,
    )
    _one_error_line(
        cli("stake", "remove", "--netuid", str(netuid), "--hotkey", hotkey, "--uri", "//Dave"),
        "config",
        2,
    )


def test_stake_on_an_unregistered_hotkey_is_not_registered(cli: Cli, chain: ThreadedChain) -> None:
    netuid = _new_subnet(cli)
    stranger = Signer.generate().ss58
    eve = Signer.from_uri("//Eve").ss58
    before = chain.call(chain.harness.client.balance(eve))
    line = _one_error_line(
        cli(
            "stake",
            "add",
            "--netuid",
            str(netuid),
            "--hotkey",
            stranger,
            "--amount",
            "1",
            "--uri",
            "//Eve",
        ),
        "not_registered",
        6,
    )
    assert stranger in line
    assert chain.call(chain.harness.client.balance(eve)) == before


# -- transfer ---------------------------------------------------------------------------------
def test_transfer_moves_exact_rao(cli: Cli, chain: ThreadedChain) -> None:
    dest = Signer.generate().ss58
    doc = _json(
        cli("transfer", "--dest", dest, "--amount", "1.5", "--uri", "//Ferdie", "--format", "json")
    )
    assert doc["amount_rao"] == 1_500_000_000
    assert chain.call(chain.harness.client.balance(dest)) == 1_500_000_000
    text = cli("transfer", "--dest", dest, "--amount", "0.000000001", "--uri", "//Ferdie")
    assert text.code == 0 and "sent 0.000000001 TAO" in text.out
    assert chain.call(chain.harness.client.balance(dest)) == 1_500_000_001


def test_transfer_beyond_balance_is_insufficient_balance(cli: Cli, chain: ThreadedChain) -> None:
    poor = Signer.from_uri("//cli-test-poor")
    rich = Signer.generate().ss58
    _json(
        cli(
            "transfer",
            "--dest",
            poor.ss58,
            "--amount",
            "1",
            "--uri",
            "//Ferdie",
            "--format",
            "json",
        )
    )
    line = _one_error_line(
        cli("transfer", "--dest", rich, "--amount", "2", "--uri", "//cli-test-poor"),
        "insufficient_balance",
        5,
    )
    assert poor.ss58 in line
    assert chain.call(chain.harness.client.balance(poor.ss58)) == TAO
    assert chain.call(chain.harness.client.balance(rich)) == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--dest", "not-an-address", "--amount", "1"], "config"),
        (
            [
                "--dest",
                "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
                "--amount",
                "1.0000000001",
            ],
            "config",
        ),
        (
            [
                "--dest",
                "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
                "--amount",
                "1",
                "--format",
                "yaml",
            ],
            "config",
        ),
    ],
)
def test_bad_input_is_refused_before_signing(cli: Cli, args: list[str], code: str) -> None:
    _one_error_line(cli("transfer", *args, "--uri", "//Alice"), code, 2)


# -- wallets, endpoints -------------------------------------------------------------------------
def test_wallet_keys_on_disk_sign_and_list(cli: Cli, chain: ThreadedChain, tmp_path: Path) -> None:
    from subnetkit.core import wallet

    # An unencrypted (dev) coldkey: encrypting one costs ~20 s of argon2 on this machine; the
    # --password-env path of load_coldkey is tested in tests/core/test_wallet.py.
    info = wallet.create_wallet("ops", "miner", path=tmp_path)
    keys = ["--wallet-name", "ops", "--wallet-hotkey", "miner", "--wallet-path", str(tmp_path)]
    _json(
        cli(
            "transfer",
            "--dest",
            info.coldkey_ss58,
            "--amount",
            "50",
            "--uri",
            "//Alice",
            "--format",
            "json",
        )
    )
    netuid = _new_subnet(cli)
    reg = _json(cli("register", "--netuid", str(netuid), *keys, "--format", "json"))
    assert reg["hotkey"] == info.hotkeys["miner"] and reg["coldkey"] == info.coldkey_ss58
    _json(cli("stake", "add", "--netuid", str(netuid), "--amount", "3", *keys, "--format", "json"))
    listed = _json(
        cli(
            "stake",
            "list",
            "--netuid",
            str(netuid),
            "--wallet-name",
            "ops",
            "--wallet-path",
            str(tmp_path),
            "--format",
            "json",
        )
    )
    assert [s["hotkey"] for s in listed["stakes"]] == [info.hotkeys["miner"]]

    _one_error_line(
        cli(
            "register",
            "--netuid",
            str(netuid),
            "--wallet-name",
            "nope",
            "--wallet-path",
            str(tmp_path),
        ),
        "key",
        3,
    )


def test_env_names_the_endpoint(cli: Cli, chain: ThreadedChain, monkeypatch) -> None:
    monkeypatch.setenv("SUBNETKIT_CHAIN__ENDPOINT", chain.address)
    doc = _json(cli("subnet", "list", "--format", "json", endpoint=False))
    assert isinstance(doc["subnets"], list)


def test_unreachable_chain_is_one_line(cli: Cli) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(
        "subnet",
        "list",
        "--chain-endpoint",
        f"127.0.0.1:{port}",
        "--timeout",
        "0.5",
        endpoint=False,
    )
    _one_error_line(result, "chain_unavailable", 7)
    _one_error_line(
        cli("subnet", "list", "--chain-endpoint", "nowhere", endpoint=False), "config", 2
    )


def test_no_secret_uri_in_output(cli: Cli) -> None:
    result = cli(
        "transfer",
        "--dest",
        Signer.generate().ss58,
        "--amount",
        "1",
        "--uri",
        "//cli-test-secret-seed",
        "--format",
        "json",
    )
    assert result.code == 5  # unfunded
    assert "cli-test-secret-seed" not in result.out + result.err
