"""Wallets: btcli's layout and keyfile format, both directions, and no secret in any output.

Real keyfiles in tmp_path. Encrypting or decrypting a coldkey costs ~5 s here (argon2i at
libsodium's "sensitive" limits), so one encrypted wallet is made once per module, by a real
``subnetkit`` subprocess, and only three tests decrypt it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bittensor_wallet import Keypair, Wallet
from bittensor_wallet.keyfile import decrypt_keyfile_data, deserialize_keypair_from_keyfile_data

from subnetkit.cli import main
from subnetkit.core import wallet
from subnetkit.core.errors import WalletError
from subnetkit.core.keyfiles import quiet
from subnetkit.core.keys import dev_signer, verify
from subnetkit.core.log import ConsoleHandler

SUBNETKIT = Path(sys.executable).with_name("subnetkit")
PASSWORD = "correct-Horse-battery-9"
PASSWORD_ENV = "SUBNETKIT_TEST_COLDKEY_PW"


@pytest.fixture(autouse=True)
def _drop_cli_log_handlers():
    """main() installs a stderr handler bound to pytest's capture; remove it afterwards."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, ConsoleHandler):
            root.removeHandler(handler)


def _secret_phrase(keyfile: Path, password: str | None = None) -> str:
    data = keyfile.read_bytes()
    if password is not None:
        data = decrypt_keyfile_data(data, password=password)
    return json.loads(data)["secretPhrase"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SUBNETKIT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """An encrypted wallet 'enc' (hotkey 'h1') made by the real CLI, with debug logging on."""
    root = tmp_path_factory.mktemp("wallets")
    proc = _run(
        "--log-level",
        "DEBUG",
        "wallet",
        "create",
        "--wallet-path",
        str(root),
        "--name",
        "enc",
        "--hotkey",
        "h1",
        "--password-env",
        PASSWORD_ENV,
        env={PASSWORD_ENV: PASSWORD},
    )
    assert proc.returncode == 0, proc.stderr
    return root, proc


# ----------------------------------------------------------------------------- encrypted


def test_cli_create_encrypted_prints_addresses_never_secrets(encrypted) -> None:
    root, proc = encrypted
    out = proc.stdout + proc.stderr
    cold_ss58 = wallet.coldkeypub("enc", path=root)
    hot_ss58 = wallet.load_hotkey("enc", "h1", path=root).ss58
    assert cold_ss58 in proc.stdout and hot_ss58 in proc.stdout
    assert "Traceback" not in out
    assert "Encrypting" not in out  # the library's own print is swallowed
    # bittensor-wallet decrypts what we wrote (btcli compatibility) ...
    plain = decrypt_keyfile_data((root / "enc" / "coldkey").read_bytes(), password=PASSWORD)
    assert deserialize_keypair_from_keyfile_data(plain).ss58_address == cold_ss58
    # ... and neither the password nor either mnemonic ever reached stdout, stderr or the logs.
    cold_phrase = json.loads(plain)["secretPhrase"]
    hot_phrase = _secret_phrase(root / "enc" / "hotkeys" / "h1")
    assert len(cold_phrase.split()) == 12
    for secret in (PASSWORD, cold_phrase, hot_phrase, *cold_phrase.split()[:1]):
        assert secret not in out
    info = wallet.wallet_info("enc", path=root)
    assert info.coldkey_encrypted is True
    assert (root / "enc" / "coldkey").stat().st_mode & 0o077 == 0


def test_load_coldkey_from_password_env(encrypted, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = encrypted
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    signer = wallet.load_coldkey("enc", path=root, password_env=PASSWORD_ENV)
    assert signer.ss58 == wallet.coldkeypub("enc", path=root)
    assert verify(signer.ss58, b"stake", signer.sign(b"stake"))
    assert PASSWORD not in repr(signer)


def test_load_coldkey_wrong_password_is_one_clear_error(encrypted) -> None:
    root, _ = encrypted
    with pytest.raises(WalletError, match="wrong password for the coldkey of wallet 'enc'"):
        wallet.load_coldkey("enc", path=root, password="not-the-password")


def test_load_coldkey_encrypted_without_password_says_how(encrypted, monkeypatch) -> None:
    root, _ = encrypted
    with pytest.raises(WalletError, match="is encrypted: give its password"):
        wallet.load_coldkey("enc", path=root)
    monkeypatch.delenv("SUBNETKIT_TEST_UNSET", raising=False)
    with pytest.raises(WalletError, match=r"SUBNETKIT_TEST_UNSET .* is unset or empty"):
        wallet.load_coldkey("enc", path=root, password_env="SUBNETKIT_TEST_UNSET")


def test_cli_subprocess_error_is_one_line_with_exit_code(encrypted) -> None:
    root, _ = encrypted
    proc = _run("wallet", "show", "--wallet-path", str(root), "--name", "missing")
    assert proc.returncode == WalletError.exit_code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[key]: no wallet 'missing'")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_subprocess_refuses_to_create_without_a_password_source(tmp_path: Path) -> None:
    proc = _run("wallet", "create", "--wallet-path", str(tmp_path), "--name", "w")
    assert proc.returncode == WalletError.exit_code
    assert proc.stderr.strip().splitlines() == [
        "error[key]: the coldkey needs a password: pass --password-env VAR, or --no-password "
        "for a throwaway dev wallet"
    ]
    assert not (tmp_path / "w").exists()


# ----------------------------------------------------------------------------- plain (dev)


def test_create_fresh_wallet_layout_and_signing(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    info = wallet.create_wallet(
        "w", "hk", path=tmp_path, on_mnemonic=lambda who, words: seen.append((who, words))
    )
    base = tmp_path / "w"
    for part in ("coldkey", "coldkeypub.txt", "hotkeys/hk", "hotkeys/hkpub.txt"):
        assert (base / part).is_file(), part
    assert info.path == base and info.coldkey_encrypted is False
    assert [who for who, _ in seen] == ["coldkey", "hotkey hk"]
    assert seen[0][1] == _secret_phrase(base / "coldkey")
    hot = wallet.load_hotkey("w", "hk", path=tmp_path)
    cold = wallet.load_coldkey("w", path=tmp_path)
    assert info.hotkeys == {"hk": hot.ss58} and info.coldkey_ss58 == cold.ss58
    assert wallet.coldkeypub("w", path=tmp_path) == cold.ss58 != hot.ss58
    assert hot.crypto == "sr25519" and verify(hot.ss58, b"m", hot.sign(b"m"))
    assert [w.name for w in wallet.list_wallets(tmp_path)] == ["w"]


def test_ed25519_keys_round_trip_through_bittensor_wallet(tmp_path: Path) -> None:
    info = wallet.create_wallet("ed", path=tmp_path, crypto="ed25519")
    assert info.coldkey_crypto == "ed25519" and info.hotkey_crypto == {"default": "ed25519"}
    hot = wallet.load_hotkey("ed", path=tmp_path)
    assert hot.crypto == "ed25519"
    assert verify(hot.ss58, b"m", hot.sign(b"m"), "ed25519")
    assert not verify(hot.ss58, b"m", hot.sign(b"m"), "sr25519")
    theirs = Wallet(name="ed", hotkey="default", path=str(tmp_path))
    assert theirs.hotkey.ss58_address == hot.ss58 and theirs.hotkey.crypto_type == 0
    assert theirs.coldkeypub.ss58_address == info.coldkey_ss58


def test_uri_dev_keys_sr25519_and_ed25519(tmp_path: Path) -> None:
    info = wallet.create_wallet("alice", path=tmp_path, uri="alice")
    alice = dev_signer("alice")
    assert info.coldkey_ss58 == alice.ss58 and info.hotkeys["default"] == alice.ss58
    info = wallet.create_wallet("mix", path=tmp_path, uri="//Alice", hotkey_uri="//Bob")
    assert (info.coldkey_ss58, info.hotkeys["default"]) == (alice.ss58, dev_signer("bob").ss58)
    info = wallet.create_wallet("ed", path=tmp_path, uri="//Alice", crypto="ed25519")
    expected = Keypair.create_from_uri("//Alice", crypto_type=0).ss58_address
    assert info.coldkey_ss58 == expected != alice.ss58
    assert wallet.load_coldkey("ed", path=tmp_path).crypto == "ed25519"


def test_existing_keys_are_kept_or_refused_never_silently_replaced(tmp_path: Path) -> None:
    first = wallet.create_wallet("w", path=tmp_path, uri="//Alice")
    # Same URIs again: nothing to do (dev setup scripts can rerun).
    assert wallet.create_wallet("w", path=tmp_path, uri="//Alice") == first
    with pytest.raises(WalletError, match="already has a hotkey 'default'"):
        wallet.create_wallet("w", path=tmp_path)
    with pytest.raises(WalletError, match="already has a different coldkey"):
        wallet.create_wallet("w", "other", path=tmp_path, uri="//Bob")
    # A new hotkey on an existing wallet keeps its coldkey and needs no password.
    added = wallet.create_wallet("w", "second", path=tmp_path)
    assert added.coldkey_ss58 == first.coldkey_ss58 and set(added.hotkeys) == {"default", "second"}
    replaced = wallet.create_wallet("w", path=tmp_path, uri="//Bob", overwrite=True)
    assert replaced.coldkey_ss58 == dev_signer("bob").ss58


def test_wallet_made_by_bittensor_wallet_is_read_here(tmp_path: Path) -> None:
    theirs = Wallet(name="bt", hotkey="miner", path=str(tmp_path))
    theirs.create_coldkey_from_uri("//Charlie", use_password=False, suppress=True)
    theirs.create_hotkey_from_uri("//Dave", use_password=False, suppress=True)
    (info,) = wallet.list_wallets(tmp_path)
    assert info.coldkey_ss58 == dev_signer("charlie").ss58
    assert info.hotkeys == {"miner": dev_signer("dave").ss58}
    assert wallet.load_hotkey("bt", "miner", path=tmp_path).ss58 == dev_signer("dave").ss58
    assert wallet.load_coldkey("bt", path=tmp_path).ss58 == dev_signer("charlie").ss58


def test_bad_input_is_a_wallet_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(WalletError, match=r"invalid wallet name '\.\./evil'"):
        wallet.create_wallet("../evil", path=tmp_path)
    with pytest.raises(WalletError, match="invalid hotkey name 'a/b'"):
        wallet.create_wallet("w", "a/b", path=tmp_path)
    with pytest.raises(WalletError, match="unknown key type 'rsa'"):
        wallet.create_wallet("w", path=tmp_path, crypto="rsa")
    with pytest.raises(WalletError, match="cannot derive a key from the URI") as err:
        wallet.create_wallet("w", path=tmp_path, uri="not a secret uri")
    assert "not a secret uri" not in str(err.value)  # a URI can be a secret: never echoed
    with pytest.raises(WalletError, match="cannot derive"):  # ed25519 has no soft derivation
        wallet.create_wallet("w", path=tmp_path, uri="//Alice/soft", crypto="ed25519")
    with pytest.raises(WalletError, match="empty coldkey password"):
        wallet.create_wallet("w", path=tmp_path, password="")
    assert list(tmp_path.iterdir()) == []
    wallet.create_wallet("w", path=tmp_path)
    with pytest.raises(WalletError, match="no hotkey 'nope'"):
        wallet.load_hotkey("w", "nope", path=tmp_path)
    assert wallet.list_wallets(tmp_path / "absent") == []


# ----------------------------------------------------------------------------- CLI in-process


def test_cli_create_list_show_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["wallet", "create", "--wallet-path", str(tmp_path), "--no-password"]
    assert main([*base, "--name", "a", "--uri", "alice", "--format", "json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["coldkey"] == {
        "ss58": dev_signer("alice").ss58,
        "crypto": "sr25519",
        "encrypted": False,
    }
    assert main([*base, "--name", "b", "--hotkey", "v", "--crypto", "ed25519"]) == 0
    capsys.readouterr()
    assert main(["wallet", "list", "--wallet-path", str(tmp_path), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in listed] == ["a", "b"]
    assert listed[1]["hotkeys"][0]["name"] == "v" and listed[1]["hotkeys"][0]["crypto"] == "ed25519"
    assert main(["wallet", "show", "--wallet-path", str(tmp_path), "--name", "b"]) == 0
    text = capsys.readouterr().out
    assert listed[1]["coldkey"]["ss58"] in text and "NOT encrypted" in text


def test_cli_bittensor_flag_uses_home_bittensor_wallets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    wallet.create_wallet("old", path=tmp_path / ".bittensor" / "wallets", uri="//Eve")
    assert main(["wallet", "list", "--bittensor", "--format", "json"]) == 0
    assert [w["name"] for w in json.loads(capsys.readouterr().out)] == ["old"]
    assert main(["wallet", "list", "--format", "json"]) == 0  # default root: ~/.subnetkit
    assert json.loads(capsys.readouterr().out) == []
    assert main(["wallet", "list", "--bittensor", "--wallet-path", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error[config]: give either --bittensor")


def test_cli_mnemonic_is_shown_only_on_a_tty_and_never_logged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = ["wallet", "create", "--wallet-path", str(tmp_path), "--no-password"]
    # Not a terminal: refused before anything is written.
    assert main([*base, "--name", "piped", "--show-mnemonic"]) == WalletError.exit_code
    assert "needs a terminal" in capsys.readouterr().err
    assert not (tmp_path / "piped").exists()
    # Default: addresses only, in output and in logs.
    assert main(["--log-level", "DEBUG", *base, "--name", "quiet"]) == 0
    out = capsys.readouterr()
    for key in ("coldkey", "hotkeys/default"):
        phrase = _secret_phrase(tmp_path / "quiet" / key)
        assert phrase not in out.out + out.err and phrase not in caplog.text
    # On a terminal with --show-mnemonic: both fresh mnemonics, once, for writing down.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main([*base, "--name", "tty", "--show-mnemonic"]) == 0
    shown = capsys.readouterr().out
    for key in ("coldkey", "hotkeys/default"):
        phrase = _secret_phrase(tmp_path / "tty" / key)
        assert shown.count(phrase) == 1 and phrase not in caplog.text


def test_cli_prompts_for_the_password_on_a_terminal(tmp_path: Path) -> None:
    """The default path for people: no flag, a terminal, the password typed twice, unechoed."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(SUBNETKIT), "wallet", "create", "--wallet-path", str(tmp_path), "--name", "typed"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
        start_new_session=True,  # no controlling tty: getpass must use this pty, not the user's
    )
    os.close(slave)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no {marker!r} from the CLI; got {seen!r}"
            seen += os.read(master, 4096)

    try:
        # Click prints the label, then getpass turns echo off, flushes input and prints " ":
        # typing before that space would be echoed and then thrown away.
        read_until(b"Coldkey password: ")
        os.write(master, PASSWORD.encode() + b"\n")
        read_until(b"Repeat for confirmation: ")
        os.write(master, PASSWORD.encode() + b"\n")
        read_until(b"wallet ready")
        assert proc.wait(timeout=60) == 0
        with contextlib.suppress(OSError):  # EIO once the child has closed the pty
            while select.select([master], [], [], 0.5)[0] and (chunk := os.read(master, 4096)):
                seen += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert PASSWORD.encode() not in seen  # hidden input: never echoed
    assert wallet.coldkeypub("typed", path=tmp_path).encode() in seen
    assert wallet.wallet_info("typed", path=tmp_path).coldkey_encrypted is True


def test_library_prints_are_muted_for_the_calling_thread_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import threading

    with quiet():
        print("from the keyfile call")  # stands in for bittensor-wallet's "Decrypting..."
        other = threading.Thread(target=print, args=("from another thread",))
        other.start()
        other.join(timeout=10)
    print("after")
    assert capsys.readouterr().out == "from another thread\nafter\n"
