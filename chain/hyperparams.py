"""Subnet hyperparameters: names, subtensor's defaults, bounds and who may set them.

Values are raw chain integers exactly as subtensor stores them (u16 fractions /65535, blocks,
rao, 0/1 flags). ``DEV_OVERRIDES`` is what ``chain start --dev`` uses so a whole network turns
over in seconds: a short tempo, no minimum weight count, room to register many neurons per block.
Everything else (commit-reveal on, Yuma 2 bonds, owner cut) stays at subtensor's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from subnetkit.chain.errors import fail

U16 = 65535
U64 = 2**63 - 1  # stored as signed 64-bit in the proto map; plenty for rao


@dataclass(frozen=True, slots=True)
class HyperparamSpec:
    """One hyperparameter: its default, the range the sudo key may set, and the owner's range."""

    default: int
    lo: int
    hi: int
    owner_lo: int | None = None  # None: only sudo may set it
    owner_hi: int | None = None
    doc: str = ""

    @property
    def owner_settable(self) -> bool:
        return self.owner_lo is not None


def _owner(default: int, lo: int, hi: int, doc: str = "") -> HyperparamSpec:
    return HyperparamSpec(default, lo, hi, lo, hi, doc)


def _sudo(default: int, lo: int, hi: int, doc: str = "") -> HyperparamSpec:
    return HyperparamSpec(default, lo, hi, None, None, doc)


#: Defaults from subtensor's runtime (docs/epoch.md §8). Owner ranges follow subtensor's
#: admin-utils.
SPECS: dict[str, HyperparamSpec] = {
    "tempo": HyperparamSpec(360, 1, 50_400, 360, 50_400, "blocks between epochs"),
    "kappa": _sudo(32_767, 0, U16, "consensus majority, /65535"),
    "rho": _sudo(10, 0, U16, "unused by the current epoch"),
    "bonds_moving_average": _owner(900_000, 0, 999_999, "/1e6"),
    "bonds_penalty": _owner(U16, 0, U16, "/65535"),
    "yuma3_enabled": _owner(0, 0, 1),
    "liquid_alpha_enabled": _owner(0, 0, 1),
    "alpha_low": _owner(45_875, 1_638, U16, "/65535, must be <= alpha_high"),
    "alpha_high": _owner(58_982, 1_638, U16, "/65535"),
    "alpha_sigmoid_steepness": _owner(1_000, 0, 32_767),
    "max_weights_limit": _owner(U16, 0, U16, "largest normalised weight x 65535"),
    "min_allowed_weights": _owner(1_024, 0, U16, "capped by n in the check"),
    "immunity_period": _owner(4_096, 0, U16, "blocks a new neuron cannot be replaced"),
    "activity_cutoff_factor_milli": _owner(13_889, 1_000, 50_000, "activity cutoff = f*tempo/1000"),
    "max_allowed_validators": _sudo(128, 1, U16),
    "max_allowed_uids": _sudo(256, 1, 4_096),
    "weights_rate_limit": _sudo(100, 0, U64, "blocks between weight sets/commits"),
    "weights_version_key": _owner(0, 0, U64, "minimum version_key accepted"),
    "commit_reveal_weights_enabled": _owner(1, 0, 1),
    "reveal_period_epochs": _owner(1, 1, 100),
    "stake_threshold": _sudo(0, 0, U64),
    "subnet_owner_cut": _sudo(11_796, 0, U16, "/65535"),
    "serving_rate_limit": _owner(50, 0, U64, "blocks between endpoint updates"),
    "burn": _sudo(1_000_000_000, 0, U64, "rao burned by burned_register"),
    "max_registrations_per_block": _sudo(1, 0, U64),
    "registration_allowed": _owner(1, 0, 1),
}

DEFAULTS: dict[str, int] = {name: spec.default for name, spec in SPECS.items()}

#: The dev profile used by ``chain start --dev`` (documented in the module docstring).
DEV_OVERRIDES: dict[str, int] = {
    "tempo": 10,
    "min_allowed_weights": 1,
    "weights_rate_limit": 5,
    "max_registrations_per_block": 256,
    "serving_rate_limit": 0,
    "immunity_period": 100,
}


def check_value(name: str, value: int, *, as_owner: bool) -> None:
    """Raise a typed error unless ``name`` may take ``value`` (set by the owner if ``as_owner``)."""
    spec = SPECS.get(name)
    if spec is None:
        known = ", ".join(sorted(SPECS))
        raise fail("unknown_hyperparameter", f"no hyperparameter {name!r}; known: {known}")
    if as_owner:
        if spec.owner_lo is None or spec.owner_hi is None:
            raise fail("not_sudo", f"{name} can only be set by the sudo key, not the subnet owner")
        lo, hi = spec.owner_lo, spec.owner_hi
    else:
        lo, hi = spec.lo, spec.hi
    if not lo <= value <= hi:
        who = "the subnet owner" if as_owner else "sudo"
        raise fail(
            "hyperparameter_out_of_range",
            f"{name}={value} is outside [{lo}, {hi}] allowed for {who}",
        )
