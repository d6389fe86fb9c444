"""Replaying epoch scenarios in the epoch test-vector JSON format
(tests/chain/epoch/vectors/README.md).

A scenario is a subnet's hyperparameters, an initial state and a list of per-epoch inputs.
Replaying it runs :func:`run_epoch` once per epoch, either with each epoch's own ``bonds`` and
``validator_permit`` (per-epoch mode) or carrying bonds and permits from one epoch to the next
as the chain does (stateful mode). Malformed documents raise ConfigError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from subnetkit.chain.epoch.exact import run_epoch_exact
from subnetkit.chain.epoch.types import EpochHyperparams, EpochInputs, EpochOutputs
from subnetkit.chain.epoch.yuma import run_epoch
from subnetkit.core.errors import ConfigError

HYPERPARAMETER_FIELDS = (
    "kappa",
    "bonds_penalty",
    "bonds_moving_average",
    "yuma3",
    "liquid_alpha",
    "alpha_low",
    "alpha_high",
    "alpha_sigmoid_steepness",
    "max_allowed_validators",
    "tempo",
    "activity_cutoff",
    "stake_threshold",
    "owner_uid",
)

I64_MAX = 2**63 - 1
"""Largest integer an int64 tensor holds: the default upper bound of every integer field."""
U16_MAX = 65535
STAKE_MAX = 2**64 - 1
"""Stake is a u64 on chain; the bound also keeps the stake sum finite in float64."""
RAO_MAX = 2**53
"""Per-epoch rao: float64 shares times this floor exactly (2**53 rao is ~430x all TAO ever)."""
N_MAX = 65535
"""The chain's uid count is a u16."""

# Output field order of the vectors' "expected" entries.
VECTOR_FIELDS = (
    "active",
    "stake",
    "active_stake",
    "new_validator_permit",
    "weights_normalized",
    "consensus",
    "validator_trust",
    "prerank",
    "rank",
    "trust",
    "incentive",
    "dividends",
    "ema_bonds",
    "bonds",
    "normalized_server_emission",
    "normalized_validator_emission",
    "normalized_combined_emission",
    "server_emission",
    "validator_emission",
    "emission",
)


@dataclass
class ScenarioEpoch:
    """One epoch's inputs plus the state edits to apply before it in stateful mode."""

    inputs: EpochInputs
    validator_permit_override: bool = False
    clear_bond_rows: list[int] = field(default_factory=list)
    clear_bond_cols: list[int] = field(default_factory=list)


@dataclass
class Scenario:
    n: int
    hyperparams: EpochHyperparams
    initial_bonds: Tensor
    initial_permit: Tensor
    epochs: list[ScenarioEpoch]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _need(doc: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a JSON object")
    if key not in doc:
        raise ConfigError(f"{where}.{key} is missing")
    return doc[key]


def _int(value: Any, where: str, *, minimum: int | None = 0, maximum: int = I64_MAX) -> int:
    """An integer in ``[minimum, maximum]``; the default maximum is what an int64 tensor holds,
    so a bigger number gets this error naming the field instead of an overflow in torch."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ConfigError(f"{where} must be <= {maximum}, got {value}")
    return value


def _is_list(value: Any) -> bool:
    """A JSON array (any non-string sequence, for documents built in Python)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _list(value: Any, n: int, where: str, what: str) -> Sequence[Any]:
    if not _is_list(value) or len(value) != n:
        got = f"a list of {len(value)}" if _is_list(value) else _json_type(value)
        raise ConfigError(f"{where} must be a list of {n} {what}, got {got}")
    checked: Sequence[Any] = value
    return checked


def _vector(
    value: Any, n: int, where: str, kind: str, *, minimum: int = 0, maximum: int = I64_MAX
) -> Tensor:
    """A length-``n`` vector of ``kind`` ("bool", "number" = stake, "int"), every item checked."""
    items = _list(value, n, where, f"{kind}s")
    for i, item in enumerate(items):
        if kind == "bool":
            if not isinstance(item, bool):
                raise ConfigError(f"{where}[{i}] must be true or false, got {item!r}")
        elif kind == "number":
            if (
                isinstance(item, bool)
                or not isinstance(item, int | float)
                or not 0 <= item <= STAKE_MAX  # also refuses NaN and infinities
            ):
                raise ConfigError(
                    f"{where}[{i}] must be a finite number in 0..{STAKE_MAX} (u64 stake), "
                    f"got {item!r}"
                )
        else:
            _int(item, f"{where}[{i}]", minimum=minimum, maximum=maximum)
    if kind == "bool":
        return torch.tensor(items, dtype=torch.bool)
    if kind == "number":
        if all(isinstance(x, int) and x <= I64_MAX for x in items):
            # Whole stakes stay integers: the exact epoch reads them without rounding.
            return torch.tensor(items, dtype=torch.int64)
        return torch.tensor([float(x) for x in items], dtype=torch.float64)
    return torch.tensor(items, dtype=torch.int64)


def _u16_matrix(value: Any, n: int, where: str) -> Tensor:
    if not _is_list(value) or len(value) != n:
        raise ConfigError(f"{where} must be an {n}×{n} matrix (a list of {n} rows)")
    rows = []
    for i, row in enumerate(value):
        rows.append(_vector(row, n, f"{where}[{i}]", "int", maximum=U16_MAX))
    return torch.stack(rows) if rows else torch.zeros((0, 0), dtype=torch.int64)


def _sparse_weights(value: Any, n: int, where: str) -> tuple[Tensor, Tensor]:
    if not _is_list(value) or len(value) != n:
        raise ConfigError(f"{where} must be a list of {n} rows of [uid, u16] pairs")
    weights = torch.zeros((n, n), dtype=torch.int64)
    mask = torch.zeros((n, n), dtype=torch.bool)
    for i, row in enumerate(value):
        if not _is_list(row):
            raise ConfigError(f"{where}[{i}] must be a list of [uid, u16] pairs")
        for k, pair in enumerate(row):
            here = f"{where}[{i}][{k}]"
            if not _is_list(pair) or len(pair) != 2:
                raise ConfigError(f"{here} must be a [uid, u16] pair")
            uid = _int(pair[0], f"{here}[0]")
            weight = _int(pair[1], f"{here}[1]")
            if uid >= n:
                raise ConfigError(f"{here}[0] uid {uid} is out of range (n={n})")
            if weight > U16_MAX:
                raise ConfigError(f"{here}[1] weight {weight} is above {U16_MAX}")
            if bool(mask[i, uid]):
                raise ConfigError(f"{here} repeats uid {uid} in row {i}")
            weights[i, uid] = weight
            mask[i, uid] = True
    return weights, mask


def _uid_list(value: Any, n: int, where: str) -> list[int]:
    if not _is_list(value):
        raise ConfigError(f"{where} must be a list of uids")
    uids = [_int(u, f"{where}[{k}]") for k, u in enumerate(value)]
    for uid in uids:
        if uid >= n:
            raise ConfigError(f"{where} uid {uid} is out of range (n={n})")
    return uids


def parse_hyperparams(doc: Mapping[str, Any], where: str = "hyperparameters") -> EpochHyperparams:
    """Build :class:`EpochHyperparams` from a vectors ``hyperparameters`` object."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a JSON object")
    for key in doc:
        if key not in HYPERPARAMETER_FIELDS and key != "rao_emission":
            # A misspelt key would otherwise run silently with the default value.
            known = ", ".join((*HYPERPARAMETER_FIELDS, "rao_emission"))
            raise ConfigError(f"{where}.{key} is not a known hyperparameter (known: {known})")
    values: dict[str, Any] = {}
    for key in HYPERPARAMETER_FIELDS:
        if key not in doc:
            continue
        value = doc[key]
        if key in ("yuma3", "liquid_alpha"):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
        elif key == "owner_uid":
            if value is not None:
                _int(value, f"{where}.{key}")
        elif key == "alpha_sigmoid_steepness":
            _int(value, f"{where}.{key}", minimum=None)
        else:
            _int(value, f"{where}.{key}")
        values[key] = value
    try:
        return EpochHyperparams(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def parse_scenario(doc: Any) -> Scenario:
    """Validate a test-vector scenario document and turn it into tensors."""
    if not isinstance(doc, Mapping):
        raise ConfigError("scenario must be a JSON object")
    n = _int(_need(doc, "n", "scenario"), "scenario.n", minimum=1, maximum=N_MAX)
    hp_doc = _need(doc, "hyperparameters", "scenario")
    hp = parse_hyperparams(hp_doc)
    if hp.owner_uid is not None and hp.owner_uid >= n:
        raise ConfigError(f"hyperparameters.owner_uid {hp.owner_uid} is out of range (n={n})")
    default_rao = _int(
        hp_doc.get("rao_emission", 0), "hyperparameters.rao_emission", maximum=RAO_MAX
    )
    state = doc.get("initial_state", {})
    if not isinstance(state, Mapping):
        raise ConfigError("scenario.initial_state must be a JSON object")
    initial_bonds = (
        _u16_matrix(state["bonds"], n, "initial_state.bonds")
        if "bonds" in state
        else torch.zeros((n, n), dtype=torch.int64)
    )
    initial_permit = (
        _vector(state["validator_permit"], n, "initial_state.validator_permit", "bool")
        if "validator_permit" in state
        else torch.zeros(n, dtype=torch.bool)
    )
    epoch_docs = _need(doc, "epochs", "scenario")
    if not _is_list(epoch_docs):
        raise ConfigError("scenario.epochs must be a list")
    epochs = []
    for k, ep in enumerate(epoch_docs):
        where = f"epochs[{k}]"
        if not isinstance(ep, Mapping):
            raise ConfigError(f"{where} must be a JSON object")
        if "weights_sparse" in ep:
            weights, mask = _sparse_weights(ep["weights_sparse"], n, f"{where}.weights_sparse")
        else:
            weights = _u16_matrix(_need(ep, "weights", where), n, f"{where}.weights")
            mask = weights > 0
        bonds = (
            _u16_matrix(ep["bonds"], n, f"{where}.bonds")
            if "bonds" in ep
            else initial_bonds.clone()
        )
        permit = (
            _vector(ep["validator_permit"], n, f"{where}.validator_permit", "bool")
            if "validator_permit" in ep
            else initial_permit.clone()
        )
        commit = None
        if ep.get("commit_block") is not None:  # -1 = no unexpired commit
            commit = _vector(ep["commit_block"], n, f"{where}.commit_block", "int", minimum=-1)
        inputs = EpochInputs(
            stake=_vector(_need(ep, "stake", where), n, f"{where}.stake", "number"),
            weights=weights,
            weights_mask=mask,
            bonds=bonds,
            last_update=_vector(_need(ep, "last_update", where), n, f"{where}.last_update", "int"),
            block_at_registration=_vector(
                _need(ep, "block_at_registration", where),
                n,
                f"{where}.block_at_registration",
                "int",
            ),
            validator_permit=permit,
            current_block=_int(_need(ep, "current_block", where), f"{where}.current_block"),
            last_mechanism_step_block=_int(
                ep.get("last_mechanism_step_block", 0), f"{where}.last_mechanism_step_block"
            ),
            rao_emission=_int(
                ep.get("rao_emission", default_rao), f"{where}.rao_emission", maximum=RAO_MAX
            ),
            commit_block=commit,
        )
        override = ep.get("validator_permit_override", False)
        if not isinstance(override, bool):
            raise ConfigError(f"{where}.validator_permit_override must be true or false")
        epochs.append(
            ScenarioEpoch(
                inputs=inputs,
                validator_permit_override=override,
                clear_bond_rows=_uid_list(
                    ep.get("clear_bond_rows", []), n, f"{where}.clear_bond_rows"
                ),
                clear_bond_cols=_uid_list(
                    ep.get("clear_bond_cols", []), n, f"{where}.clear_bond_cols"
                ),
            )
        )
    return Scenario(
        n=n,
        hyperparams=hp,
        initial_bonds=initial_bonds,
        initial_permit=initial_permit,
        epochs=epochs,
    )


def replay(
    scenario: Scenario,
    *,
    stateful: bool = False,
    exact: bool = False,
    device: str | torch.device | None = None,
) -> list[EpochOutputs]:
    """Run every epoch of ``scenario``; in stateful mode carry bonds and permits forward.

    ``exact`` runs the fixed-point epoch (the chain's numbers bit for bit) instead of float64.
    """
    epoch_fn = run_epoch_exact if exact else run_epoch
    outputs: list[EpochOutputs] = []
    bonds = scenario.initial_bonds.clone()
    permit = scenario.initial_permit.clone()
    for epoch in scenario.epochs:
        inputs = epoch.inputs
        if stateful:
            if epoch.validator_permit_override:
                permit = inputs.validator_permit.clone()
            bonds = bonds.clone()
            if epoch.clear_bond_rows:
                bonds[epoch.clear_bond_rows] = 0
            if epoch.clear_bond_cols:
                bonds[:, epoch.clear_bond_cols] = 0
            inputs = EpochInputs(**{**inputs.__dict__, "bonds": bonds, "validator_permit": permit})
        out = epoch_fn(inputs, scenario.hyperparams, device=device)
        outputs.append(out)
        bonds = out.bonds.cpu()
        permit = out.new_validator_permit.cpu()
    return outputs


def outputs_to_json(out: EpochOutputs) -> dict[str, Any]:
    """One epoch's outputs in the vectors' ``expected`` layout (plain lists, u16 sub-object)."""
    doc: dict[str, Any] = {name: getattr(out, name).cpu().tolist() for name in VECTOR_FIELDS}
    doc["u16"] = {name: value.cpu().tolist() for name, value in out.u16().items()}
    return doc


__all__ = [
    "VECTOR_FIELDS",
    "Scenario",
    "ScenarioEpoch",
    "outputs_to_json",
    "parse_hyperparams",
    "parse_scenario",
    "replay",
]
