"""Which sub-apps make up the CLI.

Each module listed here exposes ``register(app)``; keeping the list in one place makes the
command tree easy to read. Modules import their heavy dependencies inside commands.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

SUBCOMMAND_MODULES = (
    "subnetkit.cli.proto",
    "subnetkit.cli.wallet",
    "subnetkit.cli.epoch",
    "subnetkit.cli.echo",
    "subnetkit.cli.chain",
    "subnetkit.cli.subnet",
    "subnetkit.cli.neuron",
    "subnetkit.cli.localnet",
)


def register_all(app: typer.Typer) -> None:
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue  # a role not built in this checkout
        importlib.import_module(name).register(app)
