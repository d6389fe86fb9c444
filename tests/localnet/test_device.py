"""Which torch device a local network's neurons use: cuda when there is one, unless told."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from subnetkit.cli import app
from subnetkit.core.keys import Signer
from subnetkit.localnet.naming import NeuronPlan
from subnetkit.localnet.provision import Network, NeuronKeys
from subnetkit.localnet.runner import LocalnetConfig, neuron_argv
from tests.localnet.test_cli import _run


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_localnet_up_defaults_to_the_auto_device(tmp_path: Path) -> None:
    up = get_command(app).commands["localnet"].commands["up"]  # type: ignore[attr-defined]
    [device] = [p for p in up.params if p.name == "device"]
    assert device.default == "auto"
    assert LocalnetConfig().device == "auto"
    keys = NeuronKeys(
        NeuronPlan("validator-0", "validator"),
        "//v0",
        "//v0/hot",
        Signer.generate(),
        Signer.generate(),
        uid=1,
    )
    net = Network(1, "owner", "cold", tmp_path / "wallets", (keys,), commit_reveal=True)
    argv = neuron_argv(LocalnetConfig(), net, keys, "127.0.0.1:1", tmp_path)
    assert _flag(argv, "--device") == "auto"  # each neuron resolves it: cuda if it has one
    argv = neuron_argv(LocalnetConfig(device="cpu"), net, keys, "127.0.0.1:1", tmp_path)
    assert _flag(argv, "--device") == "cpu"


async def test_an_unknown_device_is_a_one_line_config_error_before_anything_starts(
    tmp_path: Path,
) -> None:
    data = tmp_path / "net"
    rc, out, err = await _run(
        "--subnet", "echo", "--device", "gpu", "--data-dir", str(data), timeout=30
    )
    assert rc == 2 and out == ""
    assert err.startswith("error[config]: ") and "--device" in err and err.count("\n") == 1
    assert not data.exists()  # nothing was started
