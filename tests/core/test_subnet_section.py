"""A subnet's own typed settings section: the same layers as every setting, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from subnetkit.core.errors import ConfigError
from subnetkit.core.settings import load_settings
from subnetkit.core.subnet_spec import SubnetSpec


class TaskConfig(BaseModel):
    text_bytes: int = Field(16, ge=1)
    mode: str = "fast"


class OtherConfig(BaseModel):
    level: int = 0


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SUBNETKIT_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [((), 16), (("toml",), 2), (("toml", "env"), 3), (("toml", "env", "flag"), 4)],
)
def test_flag_over_env_over_toml_over_the_model_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layers: tuple[str, ...], expected: int
) -> None:
    toml = None
    if "toml" in layers:
        toml = tmp_path / "neuron.toml"
        toml.write_text('[subnet]\ntext_bytes = 2\nmode = "slow"\n')
    if "env" in layers:
        monkeypatch.setenv("SUBNETKIT_SUBNET__TEXT_BYTES", "3")
    flags = {"subnet.text_bytes": "4"} if "flag" in layers else {}
    config = load_settings(toml, flags, subnet_config=TaskConfig).subnet_config(TaskConfig)
    assert isinstance(config, TaskConfig) and config.text_bytes == expected
    assert config.mode == ("slow" if toml else "fast")  # layers merge key by key


@pytest.mark.parametrize(
    ("flags", "model", "fragment"),
    [
        ({"subnet.text_bytes": "0"}, TaskConfig, "invalid setting subnet.text_bytes"),
        ({"subnet.text_bytes": "0"}, TaskConfig, "SUBNETKIT_SUBNET__TEXT_BYTES"),
        ({"subnet.txt_bytes": "3"}, TaskConfig, "unknown setting 'subnet.txt_bytes'"),
        ({"subnet.text_bytes": "3"}, None, "this subnet declares no settings section"),
    ],
)
def test_bad_values_and_typos_are_one_line_errors(
    flags: dict[str, str], model: type[BaseModel] | None, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, flags, subnet_config=model)
    assert fragment in caught.value.message and "\n" not in caught.value.message


def test_reading_the_section_as_another_model_is_refused() -> None:
    settings = load_settings(None, {}, subnet_config=TaskConfig)
    with pytest.raises(ConfigError, match="loaded as TaskConfig, not OtherConfig"):
        settings.subnet_config(OtherConfig)


def test_without_the_section_the_model_defaults_apply() -> None:
    assert load_settings().subnet_config(TaskConfig) == TaskConfig()


def test_the_spec_names_its_model_by_class_or_import_string() -> None:
    assert SubnetSpec("a", config=TaskConfig).config_model() is TaskConfig
    by_ref = SubnetSpec("b", config="subnetkit.subnets.echo:EchoConfig").config_model()
    assert by_ref is not None and by_ref.__name__ == "EchoConfig"
    with pytest.raises(ConfigError, match="must be a pydantic BaseModel class"):
        SubnetSpec("c", config="subnetkit.subnets.echo:SUBNET").config_model()
