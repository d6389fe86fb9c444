"""Neuron settings: flags over ``SUBNETKIT_*`` environment over a TOML file over defaults.

One pydantic-settings model holds every knob a miner or validator reads, under the names
Bittensor users know (netuid, wallet name/hotkey/path, axon port and external ip, sample size,
moving-average alpha, ...). It is resolved once at startup by :func:`load_settings` into frozen
objects that components receive; components never read the environment themselves, so a test
can build any configuration without touching ``os.environ``.

Environment names use the nested delimiter ``__``: ``SUBNETKIT_NETUID=3``,
``SUBNETKIT_WALLET__NAME=alice``, ``SUBNETKIT_VALIDATOR__SAMPLE_SIZE=32``. The TOML file uses
the same names, nested fields as tables (``[wallet]``, ``[validator]``, ...).

A subnet may declare its own typed section, a pydantic model (``SubnetSpec(config=...)``). It
is loaded under the name ``subnet`` through the same layers: ``--set subnet.text_bytes=32``,
``SUBNETKIT_SUBNET__TEXT_BYTES=32``, or ``[subnet]`` in the TOML file; the subnet's code reads
it typed with ``settings.subnet_config(EchoConfig)``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from subnetkit.core.errors import ConfigError

ENV_PREFIX = "SUBNETKIT_"
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The settings section holding a subnet's own configuration model.
SUBNET_SECTION = "subnet"
#: The port a local chain serves on unless told otherwise (``subnetkit chain start``).
DEFAULT_CHAIN_PORT = 9944
#: Where neurons and CLI commands look for the chain unless told otherwise.
DEFAULT_CHAIN_ENDPOINT = f"127.0.0.1:{DEFAULT_CHAIN_PORT}"

_SectionT = TypeVar("_SectionT", bound=BaseModel)

#: The TOML document for the settings being loaded (read once by load_settings).
_TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("subnetkit_toml_data", default=None)


class _Section(BaseModel):
    """Nested sections: immutable, and unknown keys are typos worth an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class WalletSettings(_Section):
    name: str = "default"
    hotkey: str = "default"
    path: Path = Path("~/.subnetkit/wallets")  # = subnetkit.core.wallet.DEFAULT_WALLET_PATH

    @field_validator("path")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


class ChainSettings(_Section):
    endpoint: str = Field(
        DEFAULT_CHAIN_ENDPOINT, min_length=1, description="host:port of the chain"
    )
    timeout: float = Field(10.0, gt=0, description="seconds per chain call")


class AxonSettings(_Section):
    """Where a neuron serves, and what it announces on chain (behind NAT these differ).

    A miner serves its synapses here. A validator serves nothing unless ``tls`` is set: then
    this is where it serves its TLS certificate for miners that require client TLS to fetch.
    """

    host: str = "127.0.0.1"
    port: int = Field(8091, ge=0, le=65535, description="0 picks a free port")
    external_ip: str | None = None
    external_port: int | None = Field(None, ge=1, le=65535)
    tls: bool = Field(
        False,
        description="a TLS certificate bound to the hotkey, its fingerprint on chain: a miner "
        "serves TLS with it (validators pin it), a validator serves it here and presents it as "
        "its client certificate (docs/protocol.md, TLS)",
    )
    require_client_tls: bool = Field(
        False,
        description="miner only, needs tls: accept only connections presenting a certificate "
        "announced on chain by a validator this miner admits (mutual TLS; session mode)",
    )


class SynapseCapSettings(_Section):
    """One synapse's own caps (``[miner.synapse_caps.<Synapse>]``), where they differ from the
    server-wide ones: a quick lookup and a long generation stream need different bounds. A
    field left out keeps the server-wide cap (docs/protocol.md, Limits)."""

    max_deadline_s: float | None = Field(
        None, gt=0, description="longest handler budget, whatever deadline the caller sets"
    )
    max_stream_s: float | None = Field(None, gt=0, description="longest a stream may run")
    max_stream_chunks: int | None = Field(
        None, ge=1, description="chunks one stream may send; past it: RESOURCE_EXHAUSTED"
    )


class MinerSettings(_Section):
    max_concurrency: int = Field(64, ge=1, description="requests handled at once")
    max_queue: int = Field(256, ge=0, description="requests waiting beyond that, then refused")
    max_concurrent_rpcs: int = Field(
        4096, ge=1, description="calls in progress on the whole server; past it gRPC refuses"
    )
    min_stake: float = Field(0.0, ge=0, description="callers with less stake are blacklisted")
    on_endpoint_taken: Literal["stop", "reannounce"] = Field(
        "stop",
        description="when this hotkey's endpoint on chain changes to one this miner did not "
        "announce (another process with the same hotkey): stop, or announce ours again",
    )
    synapse_caps: dict[str, SynapseCapSettings] = Field(
        default_factory=dict,
        description="per synapse (by name, e.g. EchoStream): its own deadline, stream-duration "
        "and chunk caps; each must name a synapse the miner serves",
    )


class ValidatorSettings(_Section):
    sample_size: int = Field(16, ge=1, description="miners queried per step")
    timeout: float = Field(12.0, gt=0, description="seconds to wait for a miner's answer")
    moving_average_alpha: float = Field(0.1, gt=0, le=1)
    weights_interval_blocks: int = Field(100, ge=1)
    decay_unqueried: bool = False
    devices: list[str] = Field(
        default_factory=list,
        description="scorer replicas, one per device (e.g. cuda:0, cuda:1); empty: `device`",
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 autocast on cuda, fp32 elsewhere"
    )
    max_batch: int = Field(1024, ge=1, description="responses per scorer call (halved on OOM)")
    session: bool = Field(
        False,
        description="needs axon.tls: to miners requiring client TLS, send requests unsigned over "
        "the mutual-TLS channel (docs/protocol.md, Session mode)",
    )
    session_verify_sample: float = Field(
        1.0,
        gt=0,
        le=1,
        description="in session mode, the share of unary responses whose signature is checked",
    )
    session_streams: bool = Field(
        True,
        description="in session mode, send unary requests on one session stream per miner "
        "(false: a gRPC call each; docs/protocol.md, Session streams)",
    )

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: list[str]) -> list[str]:
        for device in value:
            if not _DEVICE_RE.match(device):
                raise ValueError(f"{device!r}: use auto, cpu, mps, cuda or cuda:N")
        return value


class TracingSettings(_Section):
    enabled: bool = Field(
        False, description="OpenTelemetry spans for queries (needs the otel extra)"
    )


class MetricsSettings(_Section):
    port: int | None = Field(None, ge=0, le=65535, description="None: no metrics endpoint")
    host: str = "127.0.0.1"


class NeuronSettings(BaseSettings):
    """Everything a neuron is configured with. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )

    netuid: int = Field(1, ge=0, le=65535)
    wallet: WalletSettings = WalletSettings()
    chain: ChainSettings = ChainSettings()
    axon: AxonSettings = AxonSettings()
    miner: MinerSettings = MinerSettings()
    validator: ValidatorSettings = ValidatorSettings()
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
    device: str = Field("auto", description="auto (cuda if available, else cpu), cpu, cuda[:N]")
    state_dir: Path = Path("~/.subnetkit/state")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE_RE.match(value):
            raise ValueError("use auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(_LOG_LEVELS)}")
        return level

    def subnet_config(self, model: type[_SectionT]) -> _SectionT:
        """The subnet's own section as ``model`` (its defaults when the neuron was loaded
        without it, e.g. in a unit test); ConfigError if another model was loaded."""
        section = getattr(self, SUBNET_SECTION, None)
        if section is None:
            try:
                return model()
            except ValidationError as exc:
                raise ConfigError(f"{SUBNET_SECTION} settings: {_one_line(exc)}") from None
        if not isinstance(section, model):
            raise ConfigError(
                f"the [{SUBNET_SECTION}] section was loaded as {type(section).__name__}, "
                f"not {model.__name__}: load settings with the subnet's own config model"
            )
        return section

    @property
    def torch_device(self) -> str:
        """The concrete device: ``auto`` becomes cuda when torch sees a GPU, else cpu."""
        return resolve_device(self.device)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: flags (init kwargs) > environment > TOML file > field defaults.
        toml = _TOML_DATA.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=toml))
        return tuple(sources)


@lru_cache(maxsize=8)
def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` if torch can use a GPU, else ``cpu``; anything else unchanged.

    Imports torch lazily (it is slow to import) and only once per device string.
    """
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML settings file as a dict; a missing or malformed file is a ConfigError."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: check --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """Flag values as nested dicts: ``{"wallet.name": "a"}`` and ``{"wallet": {"name": "a"}}``
    both work; ``None`` means "flag not given" and is dropped so lower layers show through."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = _nest(value)
            if not value:
                continue
        parts = key.replace("__", ".").split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r} conflicts with a plain value for {part!r}")
        leaf = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = value
    return nested


def _one_line(exc: ValidationError) -> str:
    """The first validation error as ``field: what is wrong (got X)``, plus a count of others."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    if first["type"] == "extra_forbidden" and where == SUBNET_SECTION:
        text = (
            f"setting {where!r} given, but this subnet declares no settings section: drop it, "
            "or declare one with SubnetSpec(config=YourModel)"
        )
    elif first["type"] == "extra_forbidden":
        text = f"unknown setting {where!r}: check its spelling"
    else:
        got = first.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) else ""
        env = ENV_PREFIX + where.upper().replace(".", "__")
        text = f"invalid setting {where}: {first['msg']}{shown}; fix the flag, {env} or the file"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


@lru_cache(maxsize=32)
def settings_model(subnet_config: type[BaseModel] | None = None) -> type[NeuronSettings]:
    """:class:`NeuronSettings`, plus a ``subnet`` section of type ``subnet_config`` if given."""
    if subnet_config is None:
        return NeuronSettings
    if not (isinstance(subnet_config, type) and issubclass(subnet_config, BaseModel)):
        raise ConfigError(f"a subnet's config must be a pydantic model, not {subnet_config!r}")
    # A subclass that forbids unknown keys, like every other section: a misspelt
    # ``--set subnet.txt_bytes=3`` is an error, not silently ignored. It is still a
    # ``subnet_config``, so ``subnet_config(Model)`` returns it as the subnet's type.
    forbidding = type(
        subnet_config.__name__,
        (subnet_config,),
        {"model_config": ConfigDict(extra="forbid"), "__module__": subnet_config.__module__},
    )
    section: Any = (forbidding, Field(default_factory=forbidding))
    return create_model(
        "NeuronSettings", __base__=NeuronSettings, __module__=__name__, subnet=section
    )


#: ``SUBNETKIT_*`` variables that are not settings (``subnetkit --debug`` sets the first)
NOT_SETTINGS = frozenset({"SUBNETKIT_DEBUG"})


def setting_env_names(model: type[BaseModel] | None = None) -> dict[str, str]:
    """Every setting's environment variable -> its dotted name (``SUBNETKIT_AXON__PORT`` ->
    ``axon.port``), of ``model`` (default :class:`NeuronSettings`)."""
    names: dict[str, str] = {}
    for field, info in (model or NeuronSettings).model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for key in section.model_fields:
                names[f"{ENV_PREFIX}{field}__{key}".upper()] = f"{field}.{key}"
        names[f"{ENV_PREFIX}{field}".upper()] = field
    return names


def check_environment(environ: Mapping[str, str], model: type[BaseModel] | None = None) -> None:
    """Refuse a ``SUBNETKIT_*`` variable that is almost a setting's name: a typo would
    otherwise be ignored silently and the neuron run on the default. Variables far from every
    setting (another tool's) are left alone."""
    known = setting_env_names(model)
    for var in environ:
        name = var.upper()
        if not name.startswith(ENV_PREFIX.upper()) or name in known or name in NOT_SETTINGS:
            continue
        # compared without the shared prefix, which would make any two names look alike
        strip = len(ENV_PREFIX)
        suffixes = {k[strip:]: k for k in known}
        near = difflib.get_close_matches(name[strip:], list(suffixes), n=1, cutoff=0.8)
        close = [suffixes[n] for n in near]
        if close:
            raise ConfigError(
                f"environment variable {var} is not a setting: did you mean {close[0]} "
                f"({known[close[0]]})? Rename or unset it"
            )


def load_settings(
    toml_path: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    subnet_config: type[BaseModel] | None = None,
) -> NeuronSettings:
    """Resolve settings once: ``overrides`` (CLI flags) > environment > TOML file > defaults.

    ``overrides`` keys may be nested dicts or dotted (``"validator.sample_size"``); ``None``
    values are ignored. ``subnet_config`` is the subnet's own section model (read back with
    :meth:`NeuronSettings.subnet_config`). Any invalid value raises a ConfigError naming the
    field.
    """
    model = settings_model(subnet_config)
    check_environment(os.environ, model)
    toml = read_toml(Path(toml_path)) if toml_path is not None else None
    token = _TOML_DATA.set(toml)
    try:
        return model(**_nest(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    finally:
        _TOML_DATA.reset(token)


__all__ = [
    "SUBNET_SECTION",
    "AxonSettings",
    "ChainSettings",
    "MetricsSettings",
    "MinerSettings",
    "NeuronSettings",
    "ValidatorSettings",
    "WalletSettings",
    "load_settings",
    "read_toml",
    "resolve_device",
    "settings_model",
]
