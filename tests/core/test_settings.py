"""Settings: flags > SUBNETKIT_* environment > TOML file > defaults, frozen, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.settings import NeuronSettings, load_settings, resolve_device


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the SUBNETKIT_* variables it sets itself."""
    for name in list(os.environ):
        if name.upper().startswith("SUBNETKIT_"):
            monkeypatch.delenv(name)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "neuron.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_familiar_ones() -> None:
    s = load_settings()
    assert s.netuid == 1
    assert (s.wallet.name, s.wallet.hotkey) == ("default", "default")
    assert s.wallet.path == Path("~/.subnetkit/wallets").expanduser()
    assert s.chain.endpoint == "127.0.0.1:9944"
    assert (s.axon.port, s.axon.external_ip, s.metrics.port) == (8091, None, None)
    assert s.validator.decay_unqueried is False and s.device == "auto"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), 1),
        (("toml",), 2),
        (("toml", "env"), 3),
        (("env",), 3),
        (("toml", "env", "flag"), 4),
        (("toml", "flag"), 4),
    ],
)
def test_precedence_flag_over_env_over_toml_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layers: tuple[str, ...], expected: int
) -> None:
    toml = (
        _toml(tmp_path, "netuid = 2\n[validator]\nsample_size = 2\n") if "toml" in layers else None
    )
    if "env" in layers:
        monkeypatch.setenv("SUBNETKIT_NETUID", "3")
        monkeypatch.setenv("SUBNETKIT_VALIDATOR__SAMPLE_SIZE", "3")
    flags = {"netuid": 4, "validator.sample_size": 4} if "flag" in layers else {}
    s = load_settings(toml, flags)
    assert s.netuid == expected
    assert s.validator.sample_size == (16 if expected == 1 else expected)


def test_nested_fields_merge_across_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = _toml(
        tmp_path,
        '[wallet]\nname = "from-toml"\nhotkey = "from-toml"\npath = "~/w"\n'
        '[axon]\nport = 9000\nexternal_ip = "203.0.113.7"\n',
    )
    monkeypatch.setenv("SUBNETKIT_WALLET__HOTKEY", "from-env")
    monkeypatch.setenv("SUBNETKIT_AXON__EXTERNAL_PORT", "443")
    # Flags: dotted and nested forms both work; None means "flag not given".
    s = load_settings(toml, {"axon": {"port": 0, "external_ip": None}, "wallet.name": None})
    assert s.wallet == s.wallet.model_copy(
        update={"name": "from-toml", "hotkey": "from-env", "path": Path("~/w").expanduser()}
    )
    assert (s.axon.port, s.axon.external_ip, s.axon.external_port) == (0, "203.0.113.7", 443)
    assert s.axon.host == "127.0.0.1"


def test_settings_are_frozen() -> None:
    s = load_settings(None, {"netuid": 7})
    with pytest.raises(pydantic.ValidationError):
        s.netuid = 8  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        s.validator.sample_size = 1  # type: ignore[misc]


def test_bad_env_value_is_one_line_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBNETKIT_VALIDATOR__MOVING_AVERAGE_ALPHA", "1.5")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("invalid setting validator.moving_average_alpha: ")
    assert "'1.5'" in message and "SUBNETKIT_VALIDATOR__MOVING_AVERAGE_ALPHA" in message
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("toml_text", "flags", "expected"),
    [
        ("[validator]\nsampel_size = 3\n", {}, "unknown setting 'validator.sampel_size'"),
        ("", {"axon.port": 70000}, "invalid setting axon.port: "),
        ("", {"device": "tpu"}, "invalid setting device: Value error, use auto, cpu"),
        ('log_level = "loud"\n', {}, "invalid setting log_level: "),
        ("[validator\n", {}, "is not valid TOML"),
    ],
)
def test_bad_values_become_config_errors(
    tmp_path: Path, toml_text: str, flags: dict, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_toml(tmp_path, toml_text), flags)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_missing_toml_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", {})


def test_unrelated_subnetkit_env_vars_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBNETKIT_DEBUG", "1")  # set by `subnetkit --debug`, not a setting
    monkeypatch.setenv("SUBNETKIT_LOG_LEVEL", "debug")
    s = NeuronSettings()
    assert s.log_level == "DEBUG"


def test_device_auto_resolves_to_what_torch_sees() -> None:
    import torch

    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert load_settings().torch_device == expected


def test_a_misspelled_setting_variable_names_itself_and_the_nearest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUBNETKIT_VALIDATOR__SAMPL_SIZE", "3")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = info.value.message
    assert "SUBNETKIT_VALIDATOR__SAMPL_SIZE" in message
    assert "SUBNETKIT_VALIDATOR__SAMPLE_SIZE (validator.sample_size)" in message
    monkeypatch.delenv("SUBNETKIT_VALIDATOR__SAMPL_SIZE")
    monkeypatch.setenv("SUBNETKIT_SOMETHING_ELSE_ENTIRELY", "1")  # another tool's: ignored
    assert load_settings().validator.sample_size == 16
