"""Wallet keys on disk, the chain endpoint, and what chain commands never print.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

from pathlib import Path

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import new_subnet, one_error_line, one_json


def test_wallet_keys_on_disk_sign_and_list(cli: Cli, chain: ThreadedChain, tmp_path: Path) -> None:
    from subnetkit.core import wallet

    # An unencrypted (dev) coldkey: encrypting one costs ~20 s of argon2 on this machine; the
    # --password-env path of load_coldkey is tested in tests/core/test_wallet.py.
    info = wallet.create_wallet("ops", "miner", path=tmp_path)
    keys = ["--wallet-name", "ops", "--wallet-hotkey", "miner", "--wallet-path", str(tmp_path)]
    one_json(
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
    netuid = new_subnet(cli)
    reg = one_json(cli("register", "--netuid", str(netuid), *keys, "--format", "json"))
    assert reg["hotkey"] == info.hotkeys["miner"] and reg["coldkey"] == info.coldkey_ss58
    one_json(
        cli("stake", "add", "--netuid", str(netuid), "--amount", "3", *keys, "--format", "json")
    )
    listed = one_json(
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

    one_error_line(
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
    doc = one_json(cli("subnet", "list", "--format", "json", endpoint=False))
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
    one_error_line(result, "chain_unavailable", 7)
    one_error_line(
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
