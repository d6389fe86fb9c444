"""``subnetkit miner run`` and ``subnetkit validator run``: a subnet's neurons as processes.

Both take the same flags (mapped onto :class:`subnetkit.core.settings.NeuronSettings`: flags over
``SUBNETKIT_*`` environment over ``--config`` TOML over defaults; ``--set section.key=value``
reaches any other setting, ``--set subnet.key=value`` the subnet's own section); ``validator
run`` adds the validator's own ``--sample-size``, ``--timeout`` and ``--moving-average-alpha``
(the miner command does not have them).
``--subnet`` is a built-in name (``echo``, ``embedding``), a module with ``SUBNET``, or
``pkg.module:Attr`` (see :mod:`subnetkit.core.subnet_spec`).

Once the neuron is up, ``--ready-file`` receives ``{"pid", "hotkey", "port", "uid"}`` (the
miner's serving port; the validator's metrics port or null). A hotkey that is not registered
prints one line with the command that registers it and exits non-zero; SIGTERM/SIGINT stop the
neuron gracefully and exit 0.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

import typer

from subnetkit.core.errors import ConfigError
from subnetkit.core.settings import NeuronSettings

miner_app = typer.Typer(help="Run a subnet's miner.", no_args_is_help=True)
validator_app = typer.Typer(help="Run a subnet's validator.", no_args_is_help=True)

_SUBNET = typer.Option(..., "--subnet", help="echo, embedding, a module, or pkg.module:Class.")
_VARIANT = typer.Option(None, "--variant", help="Miner variant, e.g. good|noisy|random.")
_CONFIG = typer.Option(None, "--config", help="TOML settings file.")
_NETUID = typer.Option(None, "--netuid", help="Subnet id.")
_WNAME = typer.Option(None, "--wallet-name", help="Wallet name.")
_WHOTKEY = typer.Option(None, "--wallet-hotkey", help="Hotkey name in the wallet.")
_WPATH = typer.Option(None, "--wallet-path", help="Wallets directory.")
_ENDPOINT = typer.Option(None, "--chain-endpoint", help="Chain host:port.")
_HOST = typer.Option(
    None,
    "--host",
    help="Address the miner binds, or a validator with axon.tls serves its certificate on "
    "(default 127.0.0.1; 0.0.0.0 for all, with --external-ip).",
)
_PORT = typer.Option(
    None, "--port", help="Port the miner (or a validator with axon.tls) binds; 0: any free port."
)
_EXT_IP = typer.Option(None, "--external-ip", help="IP announced on chain (behind NAT).")
_EXT_PORT = typer.Option(None, "--external-port", help="Port announced on chain.")
_STATE = typer.Option(None, "--state-dir", help="Where durable neuron state lives.")
_DEVICE = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N.")
_METRICS = typer.Option(None, "--metrics-port", help="Prometheus port (0: any free port).")
_READY = typer.Option(None, "--ready-file", help='Write {"pid","hotkey","port"} once up.')
_SET = typer.Option(None, "--set", help="Any setting: section.key=value (repeatable).")
_SAMPLE = typer.Option(None, "--sample-size", min=1, help="Miners queried per round.")
_TIMEOUT = typer.Option(None, "--timeout", help="Seconds to wait for a miner's answer.")
_ALPHA = typer.Option(
    None, "--moving-average-alpha", help="Weight of the newest round in a score, in (0, 1]."
)

#: (parameter, type, option) of the flags both roles take, in --help order
_COMMON_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("subnet", str, _SUBNET),
    ("variant", str, _VARIANT),
    ("config", Path, _CONFIG),
    ("netuid", int, _NETUID),
    ("wallet_name", str, _WNAME),
    ("wallet_hotkey", str, _WHOTKEY),
    ("wallet_path", Path, _WPATH),
    ("chain_endpoint", str, _ENDPOINT),
    ("host", str, _HOST),
    ("port", int, _PORT),
    ("external_ip", str, _EXT_IP),
    ("external_port", int, _EXT_PORT),
    ("state_dir", Path, _STATE),
    ("device", str, _DEVICE),
    ("metrics_port", int, _METRICS),
    ("ready_file", Path, _READY),
    ("sets", list[str], _SET),
)
#: flags only ``validator run`` has
_VALIDATOR_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("sample_size", int, _SAMPLE),
    ("timeout", float, _TIMEOUT),
    ("moving_average_alpha", float, _ALPHA),
)


def parse_set(pairs: list[str] | None) -> dict[str, Any]:
    """``["validator.sample_size=8"]`` -> ``{"validator.sample_size": "8"}`` (pydantic converts)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: write it as section.key=value")
        out[key.strip()] = value.strip()
    return out


def _overrides(**flags: Any) -> dict[str, Any]:
    """CLI flags as dotted settings keys (None = not given, so lower layers show through)."""
    sets = flags.pop("sets")
    mapping = {
        "netuid": "netuid",
        "wallet_name": "wallet.name",
        "wallet_hotkey": "wallet.hotkey",
        "wallet_path": "wallet.path",
        "chain_endpoint": "chain.endpoint",
        "host": "axon.host",
        "port": "axon.port",
        "external_ip": "axon.external_ip",
        "external_port": "axon.external_port",
        "state_dir": "state_dir",
        "device": "device",
        "metrics_port": "metrics.port",
        "sample_size": "validator.sample_size",
        "timeout": "validator.timeout",
        "moving_average_alpha": "validator.moving_average_alpha",
    }
    out = parse_set(sets)
    for name, key in mapping.items():
        value = flags.get(name)
        if value is not None:
            out[key] = value
    return out


def _apply_log_settings(settings: NeuronSettings) -> None:
    """Honour log_level/log_format given in TOML, env or --set (the global flags set defaults)."""
    from subnetkit.core import log

    given = settings.model_fields_set & {"log_level", "log_format"}
    if given:
        log.configure(settings.log_level, settings.log_format)


def _run(role: str, subnet: str, variant: str | None, config: Path | None, **flags: Any) -> None:
    import asyncio

    from subnetkit.core.lifecycle import install_event_loop_policy
    from subnetkit.core.settings import load_settings
    from subnetkit.core.subnet_spec import build_component, resolve_subnet

    ready_file: Path | None = flags.pop("ready_file")
    # Like `python -m`, the working directory is importable, so `--subnet mysubnet` finds a
    # subnet scaffolded by `subnetkit subnet new` without setting PYTHONPATH.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    spec = resolve_subnet(subnet, role=role)
    # The subnet's own [subnet] section loads with everything else (flags > env > TOML).
    settings = load_settings(config, _overrides(**flags), subnet_config=spec.config_model())
    _apply_log_settings(settings)
    if role == "validator" and variant is not None:
        raise ConfigError("--variant selects a miner behaviour; validators take none")
    chosen = spec.pick_variant(variant) if role == "miner" else None
    component = build_component(spec.class_for(role), settings, chosen)
    install_event_loop_policy()
    asyncio.run(_serve(role, component, settings, ready_file))


async def _serve(
    role: str, component: Any, settings: NeuronSettings, ready_file: Path | None
) -> None:
    from subnetkit.core.lifecycle import run_until_signalled
    from subnetkit.core.neuron import write_ready_file

    if role == "miner":
        from subnetkit.miner.base import Miner
        from subnetkit.miner.neuron import MinerNeuron

        if not isinstance(component, Miner):
            raise ConfigError(f"{type(component).__name__} is not a miner.Miner subclass")
        neuron: Any = MinerNeuron(component, settings)
    else:
        from subnetkit.validator.neuron import Validator, ValidatorNeuron

        if not isinstance(component, Validator):
            raise ConfigError(f"{type(component).__name__} is not a validator.neuron.Validator")
        neuron = ValidatorNeuron(component, settings)

    def ready() -> None:
        if ready_file is not None:
            write_ready_file(ready_file, neuron.ready_info())

    await run_until_signalled(neuron, on_ready=ready)


def _run_command(role: str, doc: str, extra: tuple[tuple[str, Any, Any], ...] = ()) -> Any:
    """The ``run`` command of one role: the common flags plus the role's own ``extra``.

    Typer reads a command's flags from its signature; building it from the flag tables keeps
    one list of the common flags instead of two hand-written copies that drift apart.
    """
    flags = (*_COMMON_FLAGS, *extra)

    def run(**given: Any) -> None:
        _run(role, given.pop("subnet"), given.pop("variant"), given.pop("config"), **given)

    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
            for name, kind, option in flags
        ],
        return_annotation=None,
    )
    run.__annotations__ = {name: kind for name, kind, _ in flags} | {"return": None}
    run.__doc__ = doc
    return run


miner_app.command("run")(
    _run_command("miner", "Serve the subnet's miner until SIGTERM/SIGINT (registers its endpoint).")
)
validator_app.command("run")(
    _run_command(
        "validator",
        "Validate the subnet's miners and set weights until SIGTERM/SIGINT.",
        _VALIDATOR_FLAGS,
    )
)


def register(app: typer.Typer) -> None:
    app.add_typer(miner_app, name="miner")
    app.add_typer(validator_app, name="validator")
