"""The local chain of record: state, blocks, extrinsics, epoch and emission, service and client.

Kept light on purpose: importing ``subnetkit.chain`` imports nothing heavy. ``chain.Client``,
``chain.ChainClient``, ``chain.Metagraph``, ``chain.ChainService`` and ``chain.diff`` are loaded
on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "Client": ("subnetkit.chain.client", "ChainClient"),
    "ChainClient": ("subnetkit.chain.client", "ChainClient"),
    "Metagraph": ("subnetkit.chain.metagraph", "Metagraph"),
    "diff": ("subnetkit.chain.metagraph", "diff"),
    "ChainService": ("subnetkit.chain.service", "ChainService"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'subnetkit.chain' has no attribute {name!r}")


__all__ = ["ChainClient", "ChainService", "Client", "Metagraph", "diff"]
