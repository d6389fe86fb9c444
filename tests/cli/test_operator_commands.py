"""The operator-facing command line: errors that say what to do and come fast, public checks
before a coldkey is decrypted, wallet balance, keys regenerated from mnemonics, a validator's
weights, the metagraph's axon column, and hints for misplaced flags. Real chain, real wallets."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bittensor_wallet import Keypair

from subnetkit.chain.hyperparams import DEV_OVERRIDES
from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, Result, ThreadedChain
from tests.cli.support import TAO, new_subnet, one_error_line, one_json


def wallet_doc(result: Result) -> dict:
    """A wallet command's (indented) JSON document."""
    assert result.code == 0, result.err
    return json.loads(result.out)


ALICE = Signer.from_uri("//Alice")
DEV_TEMPO = DEV_OVERRIDES["tempo"]


@pytest.fixture(scope="module", autouse=True)
def keep_epoch_phase(chain: ThreadedChain) -> Iterator[None]:
    """The chain is shared by the whole directory and later tests (stake amounts) see epochs
    at fixed block offsets: pad the blocks these tests produce to whole epochs of the dev
    tempo, so the tests after them run at the same epoch phase as without them."""
    h = chain.harness
    assert h is not None
    before = int(h.service.head.number)
    yield
    period = DEV_TEMPO + 1
    produced = int(h.service.head.number) - before
    chain.call(h.produce((-produced) % period))


def test_no_chain_fails_within_seconds_naming_command_endpoint_and_fix(cli: Cli) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = cli("subnet", "list", "--chain-endpoint", f"127.0.0.1:{port}", endpoint=False)
    took = time.monotonic() - started
    line = one_error_line(result, "chain_unavailable", 7)
    assert took < 6.0, took  # the query timeout is 10 s; nothing listening is known in ~2 s
    assert "`subnetkit subnet list`" in line and f"127.0.0.1:{port}" in line
    assert "subnetkit chain start --dev" in line
    assert "GetChainInfo" not in line and "ListSubnets" not in line


def test_a_global_flag_after_the_command_gets_a_hint(cli: Cli) -> None:
    line = one_error_line(cli("subnet", "list", "--debug"), "config", 2)
    assert "--debug is a global flag" in line and "subnetkit --debug subnet list" in line


def test_wallet_balance_reads_the_public_key_only(cli: Cli, tmp_path: Path) -> None:
    wallets = str(tmp_path / "w")
    assert (
        cli(
            "wallet",
            "create",
            "--name",
            "a",
            "--uri",
            "//Alice",
            "--no-password",
            "--wallet-path",
            wallets,
            endpoint=False,
        ).code
        == 0
    )
    (tmp_path / "w" / "a" / "coldkey").unlink()  # a balance needs no private key
    doc = one_json(
        cli("wallet", "balance", "--name", "a", "--wallet-path", wallets, "--format", "json")
    )
    assert doc["coldkey"] == ALICE.ss58 and doc["balance_rao"] > 0


def test_keys_regenerate_from_their_mnemonics(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallets = str(tmp_path / "w")
    cold_words, hot_words = Keypair.generate_mnemonic(12), Keypair.generate_mnemonic(12)
    monkeypatch.setenv("COLD_WORDS", cold_words)
    monkeypatch.setenv("HOT_WORDS", hot_words)
    monkeypatch.setenv("COLD_PW", "a long passphrase")
    cold = wallet_doc(
        cli(
            "wallet",
            "regen-coldkey",
            "--name",
            "r",
            "--mnemonic-env",
            "COLD_WORDS",
            "--password-env",
            "COLD_PW",
            "--wallet-path",
            wallets,
            "--format",
            "json",
            endpoint=False,
        )
    )
    assert cold["coldkey"]["ss58"] == Keypair.create_from_mnemonic(cold_words).ss58_address
    assert cold["coldkey"]["encrypted"] is True
    hot = wallet_doc(
        cli(
            "wallet",
            "regen-hotkey",
            "--name",
            "r",
            "--hotkey",
            "h1",
            "--mnemonic-env",
            "HOT_WORDS",
            "--wallet-path",
            wallets,
            "--format",
            "json",
            endpoint=False,
        )
    )
    hotkeys = {k["name"]: k["ss58"] for k in hot["hotkeys"]}
    assert hotkeys["h1"] == Keypair.create_from_mnemonic(hot_words).ss58_address
    assert hot["coldkey"] == cold["coldkey"]  # the coldkey was left alone
    # a different key over an existing one needs --overwrite; the words never echo
    monkeypatch.setenv("HOT_WORDS", Keypair.generate_mnemonic(12))
    line = one_error_line(
        cli(
            "wallet",
            "regen-hotkey",
            "--name",
            "r",
            "--hotkey",
            "h1",
            "--mnemonic-env",
            "HOT_WORDS",
            "--wallet-path",
            wallets,
            endpoint=False,
        ),
        "key",
        3,
    )
    assert "--overwrite" in line and hot_words.split()[0] not in line


def test_public_checks_come_before_decrypting_the_coldkey(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encrypted, unfunded wallet: register fails on its balance, which needs no password
    (none is available here), and says nothing about decrypting."""
    netuid = new_subnet(cli)
    wallets = str(tmp_path / "w")
    monkeypatch.setenv("PW", "a long passphrase")
    assert (
        cli(
            "wallet",
            "create",
            "--name",
            "poor",
            "--password-env",
            "PW",
            "--wallet-path",
            wallets,
            endpoint=False,
        ).code
        == 0
    )
    monkeypatch.delenv("PW")
    result = cli(
        "register", "--netuid", str(netuid), "--wallet-name", "poor", "--wallet-path", wallets
    )
    line = one_error_line(result, "cannot_pay", 5)  # empty: not even the fee
    assert "subnetkit wallet balance" in line and "decrypting" not in result.err
    # funded, it gets as far as the coldkey and says it is decrypting it
    poor = wallet_doc(
        cli(
            "wallet",
            "show",
            "--name",
            "poor",
            "--wallet-path",
            wallets,
            "--format",
            "json",
            endpoint=False,
        )
    )["coldkey"]["ss58"]
    assert cli("transfer", "--dest", poor, "--amount", "100", "--uri", "//Alice").code == 0
    monkeypatch.setenv("PW", "a long passphrase")
    result = cli(
        "register",
        "--netuid",
        str(netuid),
        "--wallet-name",
        "poor",
        "--wallet-path",
        wallets,
        "--password-env",
        "PW",
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    assert "decrypting coldkey 'poor'" in result.err


def test_every_coldkey_command_checks_before_decrypting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """subnet create, subnet set and stake remove refuse what cannot succeed from public
    chain state alone: with no password available, each still answers with the reason."""
    netuid = new_subnet(cli)
    wallets = str(tmp_path / "w")
    monkeypatch.setenv("PW", "a long passphrase")
    made = cli(
        "wallet",
        "create",
        "--name",
        "poor",
        "--password-env",
        "PW",
        "--wallet-path",
        wallets,
        endpoint=False,
    )
    assert made.code == 0, made.err
    monkeypatch.delenv("PW")
    poor = ["--wallet-name", "poor", "--wallet-path", wallets]
    result = cli("subnet", "create", *poor)
    assert "decrypting" not in result.err
    one_error_line(result, "cannot_pay", 5)
    result = cli("subnet", "set", "999", "tempo", "10", *poor)
    assert "decrypting" not in result.err
    one_error_line(result, "subnet_not_found", 5)
    result = cli("stake", "remove", "--netuid", str(netuid), "--all", *poor)
    assert "decrypting" not in result.err
    line = one_error_line(result, "insufficient_stake", 5)
    assert "subnetkit stake list" in line


def test_weights_and_the_axon_column(cli: Cli, chain: ThreadedChain) -> None:
    h = chain.harness
    assert h is not None
    netuid = new_subnet(cli)
    chain.call(h.client.sudo_set_hyperparameter(ALICE, netuid, "commit_reveal_weights_enabled", 0))
    [validator, miner] = chain.call(h.register(netuid, 2, coldkey=h.alice))
    chain.call(h.client.add_stake(h.alice, netuid, validator.ss58, 100 * TAO))
    chain.call(h.client.serve_axon(miner, netuid, "127.0.0.1", 8091))
    chain.call(h.produce_until_epoch(netuid))
    chain.call(h.client.set_weights(validator, netuid, [2], [65535]))
    doc = one_json(cli("weights", str(netuid), "--hotkey", validator.ss58, "--format", "json"))
    [row] = doc["validators"]
    assert row["uid"] == 1 and [(w["uid"], w["share"]) for w in row["weights"]] == [(2, 1.0)]
    table = cli("weights", str(netuid))
    assert table.code == 0 and "2: 1.000" in table.out
    mg = cli("metagraph", str(netuid))
    assert mg.code == 0 and "axon" in mg.out and "127.0.0.1:8091" in mg.out


READ_ONLY = (
    ("metagraph", "{netuid}"),
    ("weights", "{netuid}"),
    ("subnet", "list"),
    ("subnet", "show", "{netuid}"),
    ("subnet", "hyperparams", "{netuid}"),
    ("chain", "info", "-a", "{endpoint}"),
)
NO_TORCH = (
    "import sys\n"
    "from subnetkit.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "assert 'torch' not in sys.modules, 'torch was imported'\n"
    "sys.exit(code)\n"
)


@pytest.mark.slow
def test_read_only_commands_do_not_import_torch(cli: Cli, chain: ThreadedChain) -> None:
    """Each in a fresh interpreter: torch is slow to import, and a look at the chain must not
    pay for it."""
    netuid = new_subnet(cli)
    for words in READ_ONLY:
        args = [w.format(netuid=netuid, endpoint=chain.address) for w in words]
        if args[0] != "chain":
            args += ["--chain-endpoint", chain.address]
        done = subprocess.run(
            [sys.executable, "-c", NO_TORCH, *args, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_busy_miner_port_is_one_line_with_a_free_one_to_use(tmp_path: Path) -> None:
    """In a fresh process, so gRPC's own C++ log lines on stderr would be seen."""
    script = (
        "import asyncio, socket, sys\n"
        "from subnetkit.core.errors import ConfigError\n"
        "from subnetkit.core.keys import Signer\n"
        "from subnetkit.miner import MinerServer\n"
        "from subnetkit.subnets.echo.miner import EchoMiner\n"
        "busy = socket.socket(); busy.bind(('127.0.0.1', 0)); busy.listen()\n"
        "port = busy.getsockname()[1]\n"
        "async def main():\n"
        "    async with MinerServer(EchoMiner(), Signer.generate(), '127.0.0.1', port):\n"
        "        pass\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except ConfigError as exc:\n"
        "    print(port, exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    port, message = done.stdout.strip().split(" ", 1)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    suggested = int(message.split("e.g. --port ")[1].split()[0])
    assert suggested != int(port)
    assert done.stderr.strip() == "", done.stderr  # no gRPC C++ lines
