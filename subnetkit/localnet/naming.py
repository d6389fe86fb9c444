"""Which neurons a local network runs, and what they are called.

Names are what a person reads in the live table and what the JSON summary is keyed by, so they
say what a neuron is: ``miner-good``, ``miner-noisy``, ``miner-random`` for a subnet with miner
variants (then ``miner-3``, ``miner-4``, ... cycling the variants again), ``miner-0``, ... for a
subnet without, and ``validator-0``, ``validator-1``, ... Names double as wallet names under the
data dir, so they must stay valid wallet names (letters, digits, ``-``, ``_``, ``.``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Role = Literal["miner", "validator"]

#: Variants of the built-in subnets, used when the subnet package does not declare its own
#: (``SUBNET.variants`` in ``subnets/<name>/__init__.py`` wins when present).
KNOWN_VARIANTS: dict[str, tuple[str, ...]] = {"embedding": ("good", "noisy", "random")}

_VARIANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True, slots=True)
class NeuronPlan:
    """One neuron the local network will register and start."""

    name: str
    role: Role
    variant: str | None = None


def subnet_variants(subnet: str) -> tuple[str, ...]:
    """The miner variants of ``subnet`` (a built-in name, a module, or ``pkg.module:Attr``).

    Reads the subnet's ``SUBNET`` spec (a ConfigError names a subnet that cannot be found, before
    anything starts); falls back to :data:`KNOWN_VARIANTS` for a spec that declares none.
    """
    from subnetkit.core.subnet_spec import resolve_subnet

    spec = resolve_subnet(subnet)
    declared = tuple(str(v) for v in spec.variants if _VARIANT_RE.match(str(v)))
    return declared or KNOWN_VARIANTS.get(spec.name, ())


def plan_neurons(miners: int, validators: int, variants: tuple[str, ...] = ()) -> list[NeuronPlan]:
    """Validators first, then miners, in the order they are registered (so uids follow)."""
    if miners < 0 or validators < 0:
        raise ValueError("miners and validators must be >= 0")
    plans = [NeuronPlan(f"validator-{i}", "validator") for i in range(validators)]
    for i in range(miners):
        if variants:
            variant: str | None = variants[i % len(variants)]
            name = f"miner-{variant}" if i < len(variants) else f"miner-{i}"
        else:
            variant, name = None, f"miner-{i}"
        plans.append(NeuronPlan(name, "miner", variant))
    return plans
