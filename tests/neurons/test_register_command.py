"""The "register it with: ..." hint must name the same wallets and chain the neuron used."""

from __future__ import annotations

import shlex
from pathlib import Path

from subnetkit.core.neuron import register_command
from subnetkit.core.settings import load_settings
from subnetkit.core.wallet import DEFAULT_WALLET_PATH


def _args(command: str) -> dict[str, str]:
    words = shlex.split(command)
    assert words[:2] == ["subnetkit", "register"]
    flags = words[2:]
    return dict(zip(flags[::2], flags[1::2], strict=True))


def test_a_custom_wallet_path_is_part_of_the_register_command(tmp_path: Path) -> None:
    wallets = tmp_path / "my wallets"  # a space: the printed command must quote it
    settings = load_settings(
        None,
        {
            "netuid": 3,
            "wallet.name": "ops",
            "wallet.hotkey": "hk1",
            "wallet.path": str(wallets),
            "chain.endpoint": "10.0.0.5:9944",
        },
    )
    assert _args(register_command(settings)) == {
        "--netuid": "3",
        "--wallet-name": "ops",
        "--wallet-hotkey": "hk1",
        "--wallet-path": str(wallets),
        "--chain-endpoint": "10.0.0.5:9944",
    }


def test_the_default_wallet_path_is_left_out() -> None:
    settings = load_settings(None, {"netuid": 1, "wallet.path": str(DEFAULT_WALLET_PATH)})
    args = _args(register_command(settings))
    assert "--wallet-path" not in args
    assert args["--wallet-name"] == "default" and args["--chain-endpoint"] == "127.0.0.1:9944"
