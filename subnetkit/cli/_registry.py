"""Which sub-apps make up the CLI.

Each module listed here exposes ``register(app)``; keeping the list in one place makes the
command tree easy to read. Modules import their heavy dependencies inside commands.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

SUBCOMMAND_MODULES = (
    "subnetkit.cli.proto",  # proto compile
    "subnetkit.cli.wallet",  # wallet create|list|show
    "subnetkit.cli.epoch",  # epoch replay
    "subnetkit.cli.echo",  # echo demo|serve
    "subnetkit.cli.chain",  # chain start|info|produce|replay
    "subnetkit.cli.subnet",  # subnet create|list|show|hyperparams|set|trigger-epoch
    "subnetkit.cli.register",  # register
    "subnetkit.cli.stake",  # stake add|remove|list
    "subnetkit.cli.delegation",  # stake take, set-take, set-/revoke-children, set-childkey-take
    "subnetkit.cli.children",  # stake children
    "subnetkit.cli.transfer",  # transfer
    "subnetkit.cli.metagraph",  # metagraph NETUID, weights NETUID
    "subnetkit.cli.weights_write",  # set-weights, commit-weights, reveal-weights
    "subnetkit.cli.axon",  # axon set
    "subnetkit.cli.scaffold",  # subnet new (adds to the "subnet" sub-app above)
    "subnetkit.cli.neuron",  # miner run, validator run
    "subnetkit.cli.localnet",  # localnet up
    "subnetkit.cli.loadtest",  # loadtest
    "subnetkit.cli.simulate",  # simulate
)


def register_all(app: typer.Typer) -> None:
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue  # a role not built in this checkout
        importlib.import_module(name).register(app)
