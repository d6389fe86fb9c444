"""``localnet up --tls``: miners require mutual TLS, validators serve their certificates on a free
loopback port and use session mode; a --miner-set/--validator-set of the same key still wins.

The whole network with --tls was run by hand (docs/operating.md); this pins what each neuron is
told, and that the settings it is told load and pass the neurons' own checks.
"""

from __future__ import annotations

from pathlib import Path

from subnetkit.core.keys import Signer
from subnetkit.core.neuron import check_axon
from subnetkit.core.settings import load_settings
from subnetkit.localnet.naming import NeuronPlan
from subnetkit.localnet.provision import Network, NeuronKeys
from subnetkit.localnet.runner import LocalnetConfig, neuron_argv


def _sets(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
    return dict(pair.split("=", 1) for pair in pairs)  # later ones win, as the CLI reads them


def _keys(role: str) -> NeuronKeys:
    plan = NeuronPlan(f"{role}-0", role)
    return NeuronKeys(plan, f"//{role}", f"//{role}/hot", Signer.generate(), Signer.generate(), 1)


def test_tls_flag_turns_on_mutual_tls_and_session_mode(tmp_path: Path) -> None:
    miner, validator = _keys("miner"), _keys("validator")
    net = Network(1, "owner", "cold", tmp_path / "w", (miner, validator), commit_reveal=True)
    plain = LocalnetConfig()
    assert "axon.tls" not in _sets(neuron_argv(plain, net, miner, "127.0.0.1:1", tmp_path))
    assert "axon.tls" not in _sets(neuron_argv(plain, net, validator, "127.0.0.1:1", tmp_path))

    cfg = LocalnetConfig(tls=True, validator_sets=("validator.session_verify_sample=0.5",))
    miner_sets = _sets(neuron_argv(cfg, net, miner, "127.0.0.1:1", tmp_path))
    assert miner_sets["axon.tls"] == miner_sets["axon.require_client_tls"] == "true"
    validator_sets = _sets(neuron_argv(cfg, net, validator, "127.0.0.1:1", tmp_path))
    assert validator_sets["axon.tls"] == validator_sets["validator.session"] == "true"
    assert (validator_sets["axon.host"], validator_sets["axon.port"]) == ("127.0.0.1", "0")
    for role, sets in (("miner", miner_sets), ("validator", validator_sets)):
        settings = load_settings(None, sets)
        check_axon(settings.axon, role)
    assert load_settings(None, validator_sets).validator.session_verify_sample == 0.5
