"""The epoch's inputs, hyperparameters and outputs as plain typed containers.

Hyperparameters are kept in raw chain units (u16 fractions, parts per million, blocks) so the
chain can store exactly what an owner set; the epoch converts them once. Tensors are indexed by
uid. Matrix outputs are carried as the rows that can be nonzero (validators) and expanded to
dense ``n × n`` tensors only when asked for, because allocating three ``n × n`` float64
matrices would cost more than the whole epoch at n = 4096.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

U16_MAX = 65535
I64_MAX = 2**63 - 1


@dataclass(frozen=True)
class EpochHyperparams:
    """Per-subnet epoch parameters in raw chain units; defaults are subtensor's runtime ones.

    ``kappa``, ``bonds_penalty``, ``alpha_low`` and ``alpha_high`` are u16 fractions (/65535),
    ``bonds_moving_average`` is parts per million, ``alpha_sigmoid_steepness`` is an i16 that the
    sigmoid divides by 100, ``activity_cutoff`` is in BLOCKS (see :func:`activity_cutoff_blocks`)
    and ``stake_threshold`` is in raw stake units. ``liquid_alpha`` only acts with ``yuma3``.
    """

    kappa: int = 32767
    bonds_penalty: int = 65535
    bonds_moving_average: int = 900_000
    yuma3: bool = False
    liquid_alpha: bool = False
    alpha_low: int = 45875
    alpha_high: int = 58982
    alpha_sigmoid_steepness: int = 1000
    max_allowed_validators: int = 128
    tempo: int = 360
    activity_cutoff: int = 5000
    stake_threshold: int = 0
    owner_uid: int | None = None

    def __post_init__(self) -> None:
        from subnetkit.core.errors import ConfigError

        for name in ("kappa", "bonds_penalty", "alpha_low", "alpha_high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U16_MAX:
                raise ConfigError(f"hyperparameter {name}={value!r} must be an integer 0..65535")
        for name in ("yuma3", "liquid_alpha"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"hyperparameter {name}={getattr(self, name)!r} must be a bool")
        for name in ("bonds_moving_average", "alpha_sigmoid_steepness"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"hyperparameter {name}={value!r} must be an integer")
        if not 0 <= self.bonds_moving_average <= 1_000_000:
            raise ConfigError(
                f"hyperparameter bonds_moving_average={self.bonds_moving_average} must be in "
                "0..1000000 (parts per million)"
            )
        if self.alpha_low > self.alpha_high:
            raise ConfigError(
                f"hyperparameter alpha_low={self.alpha_low} must not exceed "
                f"alpha_high={self.alpha_high}"
            )
        if not -32768 <= self.alpha_sigmoid_steepness <= 32767:
            raise ConfigError("hyperparameter alpha_sigmoid_steepness must fit an i16")
        for name in ("max_allowed_validators", "tempo", "activity_cutoff", "stake_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= I64_MAX:
                raise ConfigError(
                    f"hyperparameter {name}={value!r} must be an integer 0..{I64_MAX}"
                )
        if self.owner_uid is not None and (
            isinstance(self.owner_uid, bool)
            or not isinstance(self.owner_uid, int)
            or not 0 <= self.owner_uid <= I64_MAX
        ):
            raise ConfigError(f"hyperparameter owner_uid={self.owner_uid!r} must be a uid or null")


def activity_cutoff_blocks(factor_milli: int, tempo: int) -> int:
    """Blocks without setting weights after which a uid counts as inactive.

    ``max(factor_milli * tempo / 1000, 1)`` in integers (subtensor ``get_activity_cutoff_blocks``);
    the default factor 13 889 gives 5 000 blocks at tempo 360.
    """
    return max(factor_milli * tempo // 1000, 1)


@dataclass
class EpochInputs:
    """Everything one epoch reads, indexed by uid (``n`` uids, ``n × n`` matrices).

    ``weights`` holds the stored u16 values (rows = the setter, already max-upscaled) and
    ``weights_mask`` says which entries are present on chain (an entry may be present with
    value 0). ``bonds`` are the u16 bonds the previous epoch stored. ``validator_permit`` are the
    permits going INTO this epoch (the previous epoch's ``new_validator_permit``).
    ``commit_block[i]`` is uid i's earliest unexpired weight commit (-1 = none) when
    commit-reveal is on, else ``None``.

    Only rows of uids with an input or a new permit are read from ``weights`` and ``bonds``:
    other rows count as empty (the chain never stores bonds for them and empties their weights
    in docs/epoch.md §2.5), which is what keeps the epoch from touching all ``n × n`` entries.
    Values are not
    range-checked here for the same reason; the chain validates them when they are written.
    """

    stake: Tensor
    weights: Tensor
    weights_mask: Tensor
    bonds: Tensor
    last_update: Tensor
    block_at_registration: Tensor
    validator_permit: Tensor
    current_block: int
    last_mechanism_step_block: int
    rao_emission: int
    commit_block: Tensor | None = None

    @property
    def n(self) -> int:
        return int(self.stake.shape[0])


def _expand_rows(rows: Tensor, values: Tensor, n: int) -> Tensor:
    dense = torch.zeros((n, n), dtype=values.dtype, device=values.device)
    if rows.numel():
        dense[rows] = values
    return dense


@dataclass
class EpochOutputs:
    """What one epoch produces, indexed by uid; fractions are float64, rao/u16 are int64.

    Matrix outputs are held as ``row_uids`` plus ``*_rows`` (one row per uid in ``row_uids``:
    every uid that had or gets a validator permit; all other rows are zero). The dense
    ``weights_normalized``, ``ema_bonds`` and ``bonds`` properties expand them on first use.
    ``rank`` is the un-normalised clipped rank; ``prerank`` and ``trust`` are the legacy fields
    (subtensor no longer stores them): given as tensors, or computed on first use by
    ``legacy_fn`` (the exact epoch, which keeps them off the chain's path).
    """

    active: Tensor
    stake: Tensor
    active_stake: Tensor
    new_validator_permit: Tensor
    consensus: Tensor
    validator_trust: Tensor
    rank: Tensor
    incentive: Tensor
    dividends: Tensor
    normalized_server_emission: Tensor
    normalized_validator_emission: Tensor
    normalized_combined_emission: Tensor
    server_emission: Tensor
    validator_emission: Tensor
    emission: Tensor
    row_uids: Tensor
    weights_normalized_rows: Tensor
    ema_bonds_rows: Tensor
    bonds_rows: Tensor
    u16_values: dict[str, Tensor] | None = None
    """The u16 storage form computed in fixed point (exact epoch); None: derive it from floats."""
    rows_in_bits: bool = False
    """True when ``weights_normalized_rows`` and ``ema_bonds_rows`` hold I32F32 bit patterns
    (int64, the exact epoch): they become float64 fractions only when expanded."""
    legacy_prerank: Tensor | None = None
    legacy_trust: Tensor | None = None
    legacy_fn: Callable[[], tuple[Tensor, Tensor]] | None = None
    """Computes ``(prerank, trust)`` when they were not given."""

    def _legacy(self) -> tuple[Tensor, Tensor]:
        if self.legacy_prerank is None or self.legacy_trust is None:
            if self.legacy_fn is None:
                raise ValueError(
                    "epoch outputs carry neither prerank/trust nor a way to compute them"
                )
            self.legacy_prerank, self.legacy_trust = self.legacy_fn()
        return self.legacy_prerank, self.legacy_trust

    @property
    def prerank(self) -> Tensor:
        """Legacy ``Σ_i A_i W_ij`` before clipping (docs/epoch.md §2.8)."""
        return self._legacy()[0]

    @property
    def trust(self) -> Tensor:
        """Legacy ``rank / prerank`` (0 where prerank is 0)."""
        return self._legacy()[1]

    @property
    def n(self) -> int:
        return int(self.stake.shape[0])

    def _fractions(self, rows: Tensor) -> Tensor:
        if not self.rows_in_bits:
            return rows
        return rows.to(torch.float64).mul_(1.0 / (1 << 32))  # exact: bits stay below 2^53

    @cached_property
    def weights_normalized(self) -> Tensor:
        """Row-normalised weights after every mask (``n × n`` float64)."""
        return _expand_rows(self.row_uids, self._fractions(self.weights_normalized_rows), self.n)

    @cached_property
    def ema_bonds(self) -> Tensor:
        """Bond EMA before u16 storage (``n × n`` float64; column max-upscaled unless Yuma3)."""
        return _expand_rows(self.row_uids, self._fractions(self.ema_bonds_rows), self.n)

    @cached_property
    def bonds(self) -> Tensor:
        """Bonds to store (``n × n`` int64 u16); rows without a new permit are empty."""
        return _expand_rows(self.row_uids, self.bonds_rows, self.n)

    def stored_bond_rows(self) -> Iterator[tuple[int, Tensor]]:
        """``(uid, row)`` for each uid whose bond row is stored (those with a new permit).

        Lets the chain persist bonds sparsely without touching the dense matrix.
        """
        permitted = self.new_validator_permit[self.row_uids]
        for k, uid in enumerate(self.row_uids.tolist()):
            if bool(permitted[k]):
                yield uid, self.bonds_rows[k]

    def u16(self) -> dict[str, Tensor]:
        """The u16 storage form of the per-uid fractions: ``floor(x * 65535)``.

        ``pruning_score`` is the legacy max-upscaled combined emission. The exact epoch
        computes these in fixed point and they are returned as it computed them.
        """
        from subnetkit.chain.epoch.quant import max_upscale_u16_tensor, to_u16

        if self.u16_values is not None:
            # trust is exact in float64 (bits / 2^32), so floor(x * 65535) is too.
            return {**self.u16_values, "trust": to_u16(self.trust)}

        return {
            "stake_weight": to_u16(self.stake),
            "consensus": to_u16(self.consensus),
            "incentive": to_u16(self.incentive),
            "dividends": to_u16(self.dividends),
            "validator_trust": to_u16(self.validator_trust),
            "trust": to_u16(self.trust),
            "pruning_score": max_upscale_u16_tensor(self.normalized_combined_emission),
        }


__all__ = [
    "EpochHyperparams",
    "EpochInputs",
    "EpochOutputs",
    "activity_cutoff_blocks",
]
