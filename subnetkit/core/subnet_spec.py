"""Which miner and validator classes make up a subnet, and how the CLI finds them by name.

A subnet package says what it has in one object, ``SUBNET``, in its ``__init__.py``::

    SUBNET = SubnetSpec(
        name="embedding",
        miner="subnetkit.subnets.embedding.miner:EmbeddingMiner",
        validator="subnetkit.subnets.embedding.validator:EmbeddingValidator",
        variants=("good", "noisy", "random"),
        config="subnetkit.subnets.embedding.config:EmbeddingConfig",  # optional
    )

Classes are named by import string, not imported, so reading the registry costs nothing and a
subnet whose validator needs torch does not load torch into a process that only runs its miner.
``subnetkit miner run --subnet X`` accepts a built-in name (``echo``, ``embedding``), a module
that defines ``SUBNET`` (``my_pkg.my_subnet``), or an import string ``pkg.module:Attr`` naming
either such a spec or a Miner/Validator class directly.

A class is built with ``cls.from_settings(settings, variant=...)`` when it defines that
classmethod (so it can read ``--device`` and friends), else with ``cls()``.

``config`` names the subnet's own settings section, a pydantic model: the neuron loads it as
``[subnet]`` from flags (``--set subnet.key=value``), ``SUBNETKIT_SUBNET__KEY`` and TOML like
every other setting, and the classes read it with ``settings.subnet_config(Model)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from subnetkit.core.errors import ConfigError

if TYPE_CHECKING:
    from subnetkit.core.settings import NeuronSettings

#: Subnets that ship with subnetkit: short name -> the module holding ``SUBNET``.
BUILTIN_SUBNETS: dict[str, str] = {
    "echo": "subnetkit.subnets.echo",
    "embedding": "subnetkit.subnets.embedding",
}


@dataclass(frozen=True, slots=True)
class SubnetSpec:
    """A subnet's parts, by import string (``"pkg.module:Class"``)."""

    name: str
    miner: str | None = None
    validator: str | None = None
    #: names a miner accepts as ``--variant`` (empty: the miner has no variants)
    variants: tuple[str, ...] = ()
    #: the variant used when ``--variant`` is not given (default: the first one)
    default_variant: str | None = None
    description: str = ""
    #: the subnet's settings section: a pydantic model class, or its import string
    config: type[BaseModel] | str | None = None

    def config_model(self) -> type[BaseModel] | None:
        """The subnet's settings model (imported now when given as a string), or None."""
        found: Any = load_object(self.config) if isinstance(self.config, str) else self.config
        if found is not None and not (isinstance(found, type) and issubclass(found, BaseModel)):
            raise ConfigError(
                f"subnet {self.name!r}: config must be a pydantic BaseModel class, got {found!r}"
            )
        return found

    def class_for(self, role: str) -> type[Any]:
        """The miner or validator class (``role`` is ``"miner"`` or ``"validator"``)."""
        ref = self.miner if role == "miner" else self.validator if role == "validator" else None
        if ref is None:
            raise ConfigError(f"subnet {self.name!r} has no {role}: it cannot run as a {role}")
        found = load_object(ref)
        if not isinstance(found, type):
            raise ConfigError(f"{ref} is not a class; the subnet's {role} must name a class")
        return found

    def pick_variant(self, variant: str | None) -> str | None:
        """The variant to build: the one asked for (checked), else the default, else None."""
        if variant is None:
            return self.default_variant or (self.variants[0] if self.variants else None)
        if not self.variants:
            raise ConfigError(f"subnet {self.name!r} has no variants: drop --variant {variant}")
        if variant not in self.variants:
            raise ConfigError(
                f"unknown variant {variant!r} for subnet {self.name!r}: "
                f"choose one of {', '.join(self.variants)}"
            )
        return variant


def load_object(ref: str) -> Any:
    """Import ``"pkg.module:attr"`` (attr may be dotted); ConfigError says what is missing."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{ref!r} is not an import string: write it as 'pkg.module:Name'")
    module = _import(module_name)
    found: Any = module
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"module {module_name} has no {attr!r} (from {ref!r})") from None
    return found


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(
                f"cannot import {module_name!r}: no such module (is it installed, or on "
                "PYTHONPATH?)"
            ) from None
        raise


def resolve_subnet(name: str, *, role: str | None = None) -> SubnetSpec:
    """The spec for ``--subnet NAME``: a built-in name, a module with ``SUBNET``, or
    ``pkg.module:Attr`` naming a spec or a class (which then serves as ``role``'s class)."""
    name = name.strip()
    if not name:
        raise ConfigError("--subnet is empty: give a built-in name (echo, embedding) or pkg.mod:X")
    if ":" in name:
        found = load_object(name)
        if isinstance(found, SubnetSpec):
            return found
        if isinstance(found, type):
            if role not in ("miner", "validator"):
                raise ConfigError(f"{name} is a class; use it with 'miner run' or 'validator run'")
            if role == "miner":
                return SubnetSpec(name=name, miner=name)
            return SubnetSpec(name=name, validator=name)
        raise ConfigError(f"{name} is neither a SubnetSpec nor a class")
    module_name = BUILTIN_SUBNETS.get(name)
    if module_name is None and "." not in name:
        raise ConfigError(
            f"unknown subnet {name!r}: built-in subnets are {', '.join(sorted(BUILTIN_SUBNETS))}; "
            "or give a module path (pkg.module) or an import string (pkg.module:Class)"
        )
    module = _import(module_name or name)
    spec = getattr(module, "SUBNET", None)
    if not isinstance(spec, SubnetSpec):
        raise ConfigError(
            f"module {module.__name__} defines no SUBNET = SubnetSpec(...): add one to its "
            "__init__.py"
        )
    return spec


def build_component(cls: type[Any], settings: NeuronSettings, variant: str | None = None) -> Any:
    """Instantiate a subnet's miner or validator class for ``settings`` and ``variant``."""
    factory = getattr(cls, "from_settings", None)
    if factory is not None:
        return factory(settings, variant=variant)
    if variant is not None:
        raise ConfigError(
            f"{cls.__name__} takes no variant (it has no from_settings): drop --variant"
        )
    return cls()


__all__ = ["BUILTIN_SUBNETS", "SubnetSpec", "build_component", "load_object", "resolve_subnet"]
