"""Finding a subnet's classes from ``--subnet``, and the CLI's ``--set`` parsing."""

from __future__ import annotations

import pytest

from subnetkit.cli.neuron import parse_set
from subnetkit.core.errors import ConfigError
from subnetkit.core.settings import load_settings
from subnetkit.core.subnet_spec import SubnetSpec, build_component, resolve_subnet
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.subnets.embedding.miner import EmbeddingMiner
from subnetkit.subnets.embedding.validator import EmbeddingValidator

CUSTOM = SubnetSpec(
    name="custom", miner="subnetkit.subnets.echo.miner:EchoMiner", variants=("a", "b")
)


def test_builtin_names_resolve_to_both_classes() -> None:
    echo = resolve_subnet("echo")
    assert echo.class_for("miner") is EchoMiner and echo.class_for("validator") is EchoValidator
    emb = resolve_subnet("embedding")
    assert emb.class_for("miner") is EmbeddingMiner
    assert emb.class_for("validator") is EmbeddingValidator
    assert emb.variants == ("good", "noisy", "random") and emb.pick_variant(None) == "good"


def test_module_path_and_import_strings() -> None:
    assert resolve_subnet("subnetkit.subnets.echo").name == "echo"
    direct = resolve_subnet("subnetkit.subnets.echo.miner:EchoMiner", role="miner")
    assert direct.class_for("miner") is EchoMiner
    assert resolve_subnet("tests.neurons.test_subnet_spec:CUSTOM") is CUSTOM


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("nope", "unknown subnet 'nope'"),
        ("no_such_pkg.mod:X", "no such module"),
        ("subnetkit.subnets.echo.miner:Missing", "has no 'Missing'"),
        ("subnetkit.subnets.echo.miner", "defines no SUBNET"),
        ("subnetkit.subnets.echo:SUBNET.name", "neither a SubnetSpec nor a class"),
    ],
)
def test_bad_subnet_names_are_config_errors(name: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        resolve_subnet(name, role="miner")


def test_variants_are_checked() -> None:
    assert CUSTOM.pick_variant("b") == "b"
    with pytest.raises(ConfigError, match="choose one of a, b"):
        CUSTOM.pick_variant("c")
    with pytest.raises(ConfigError, match="has no variants"):
        resolve_subnet("echo").pick_variant("good")
    with pytest.raises(ConfigError, match="has no validator"):
        CUSTOM.class_for("validator")


def test_build_component_uses_from_settings() -> None:
    settings = load_settings(None, {"device": "cpu"})
    miner = build_component(EmbeddingMiner, settings, "random")
    assert isinstance(miner, EmbeddingMiner) and miner.variant == "random"
    assert isinstance(build_component(EchoMiner, settings, None), EchoMiner)
    with pytest.raises(ConfigError, match="takes no variant"):
        build_component(EchoMiner, settings, "good")


def test_set_flags_reach_nested_settings() -> None:
    overrides = parse_set(["validator.sample_size=8", "miner.min_stake = 2.5"])
    settings = load_settings(None, overrides)
    assert settings.validator.sample_size == 8 and settings.miner.min_stake == 2.5
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        parse_set(["sample_size"])
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(None, parse_set(["validator.nope=1"]))


def test_echo_reads_its_own_section_set_by_flag() -> None:
    spec = resolve_subnet("echo")
    overrides = parse_set(["subnet.text_bytes=5", "validator.timeout=3"])
    settings = load_settings(None, overrides, subnet_config=spec.config_model())
    validator = build_component(spec.class_for("validator"), settings)
    assert isinstance(validator, EchoValidator)
    assert (validator.text_bytes, validator.latency_budget_s) == (5, 3.0)
    assert len(validator.make_task(seed=1)) == 10  # 5 random bytes, hex-encoded
