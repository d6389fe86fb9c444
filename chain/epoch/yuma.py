"""One Yuma consensus epoch as a pure function over tensors (docs/epoch.md §2, the sparse epoch).

Only rows of uids that had or get a validator permit can carry weights or bonds, so the heavy
work runs on that ``(r × n)`` block (r ≈ validators), never on ``n × n``: this is what keeps an
epoch with 4096 uids in tens of milliseconds. Everything is float64 and deterministic; values
that the chain compares or floors are snapped to its I32F32 grid (see :mod:`chain.epoch.quant`).
The function never blocks on I/O but is CPU-heavy: call it from a worker thread on the chain's
event loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from subnetkit.chain.epoch.bonds import yuma2_bonds, yuma3_bonds
from subnetkit.chain.epoch.median import normalized_stake_bits, weighted_median_columns
from subnetkit.chain.epoch.quant import ONE, U16_MAX, normalize, snap, u16_ratio
from subnetkit.chain.epoch.types import EpochHyperparams, EpochInputs, EpochOutputs
from subnetkit.core.errors import ConfigError

_I64 = torch.int64
_F64 = torch.float64


def _check_shapes(inputs: EpochInputs) -> int:
    n = inputs.n
    expected = {
        "stake": (n,),
        "weights": (n, n),
        "weights_mask": (n, n),
        "bonds": (n, n),
        "last_update": (n,),
        "block_at_registration": (n,),
        "validator_permit": (n,),
    }
    if inputs.commit_block is not None:
        expected["commit_block"] = (n,)
    for name, shape in expected.items():
        actual = tuple(getattr(inputs, name).shape)
        if actual != shape:
            raise ConfigError(f"epoch input {name} has shape {actual}, expected {shape} (n={n})")
    if inputs.rao_emission < 0:
        raise ConfigError(f"epoch input rao_emission={inputs.rao_emission} must be >= 0")
    return n


def top_k_nonzero(values_bits: Tensor, k: int) -> Tensor:
    """``is_topk_nonzero``: nonzero entries among the k largest; ties lose the lower uid.

    A stable ascending sort keeps uid order among equal values, and the first ``n − k`` lose.
    """
    keep = values_bits != 0
    n = values_bits.shape[0]
    if n >= k:
        order = torch.sort(values_bits, stable=True).indices
        keep[order[: n - k]] = False
    return keep


def _take_rows(matrix: Tensor, rows: Tensor) -> Tensor:
    """A copy of ``matrix[rows]`` (``index_select`` is the fastest gather of whole rows)."""
    return torch.index_select(matrix, 0, rows.to(matrix.device))


def _zero_rows_(matrix: Tensor, which: Tensor) -> None:
    """Zero the rows flagged in ``which`` in place, touching only those rows."""
    index = torch.nonzero(which).squeeze(1)
    if index.numel():
        matrix[index] = 0


def _masked_weight_bits(
    inputs: EpochInputs,
    rows: Tensor,
    permit_in: Tensor,
    owner: int | None,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Rows of W after the masks of docs/epoch.md §2.5, row-normalised as exact I32F32 bits,
    and the present mask.

    In-place where possible: this is the largest block of work in the epoch.
    """
    weights = _take_rows(inputs.weights, rows).to(device, _I64)
    present = _take_rows(inputs.weights_mask, rows).to(device, torch.bool)
    registered = inputs.block_at_registration.to(device, _I64)
    last_update = inputs.last_update.to(device, _I64)[rows]
    present &= last_update.unsqueeze(1) > registered.unsqueeze(0)  # 3. outdated entries
    _zero_rows_(present, ~permit_in[rows])  # 1. rows without an input permit
    not_owner = torch.nonzero(rows != owner).squeeze(1) if owner is not None else None
    if not_owner is None:
        present[torch.arange(rows.shape[0], device=device), rows] = False  # 2. self-weights
    else:
        present[not_owner, rows[not_owner]] = False  # 2. ... except the owner's
    if inputs.commit_block is not None:  # 4. commit-reveal: committed before j registered
        commit = inputs.commit_block.to(device, _I64)[rows].unsqueeze(1)
        present &= ~((commit >= 0) & (commit < registered.unsqueeze(0)))
    weights.masked_fill_(present.logical_not(), 0)
    # 5. (w << 32) / Σw, truncated: exactly the chain's I32F32 row normalisation.
    sums = weights.sum(dim=1, keepdim=True).clamp_(min=1)
    weights.bitwise_left_shift_(32).div_(sums, rounding_mode="floor")
    return weights, present


def run_epoch(
    inputs: EpochInputs, hp: EpochHyperparams, device: str | torch.device | None = None
) -> EpochOutputs:
    """Run one epoch and return every per-uid output (docs/epoch.md §2.1-2.14).

    ``device`` picks where the work runs (default: where ``inputs.stake`` lives); outputs live
    there too. Raises ConfigError on inputs with the wrong shapes.
    """
    n = _check_shapes(inputs)
    dev = torch.device(device) if device is not None else inputs.stake.device
    owner = hp.owner_uid if hp.owner_uid is not None and hp.owner_uid < n else None
    block = int(inputs.current_block)

    # 2.1 activity
    last_update = inputs.last_update.to(dev, _I64)
    registered = inputs.block_at_registration.to(dev, _I64)
    # ``block - last_update`` rather than ``last_update + cutoff``: the sum can pass int64.
    active = block - last_update <= hp.activity_cutoff

    # 2.2 stake with threshold (owner exempt), normalised onto the I32F32 grid
    raw_stake = inputs.stake.to(dev, _F64)
    below = torch.floor(raw_stake) < hp.stake_threshold
    if owner is not None:
        below[owner] = False
    stake = snap(normalize(torch.where(below, 0.0, raw_stake)))

    # 2.3 permits in (owner forced) and out (top-k by stake, owner forced)
    permit_in = inputs.validator_permit.to(dev, torch.bool).clone()
    new_permit = top_k_nonzero(torch.floor(stake * ONE).to(_I64), hp.max_allowed_validators)
    if owner is not None:
        permit_in[owner] = True
        new_permit[owner] = True

    # 2.4 active stake
    active_stake = snap(normalize(torch.where(active & permit_in, stake, 0.0)))

    # Rows that can hold weights or bonds; everything else in W and B is empty.
    rows = torch.nonzero(permit_in | new_permit).squeeze(1)

    # 2.5 masks and row normalisation (exact I32F32)
    weights_bits, present = _masked_weight_bits(inputs, rows, permit_in, owner, dev)
    weights = weights_bits.to(_F64).mul_(1.0 / ONE)  # exact: a power-of-two scale
    row_stake = active_stake[rows]

    # 2.6 consensus over validators with active stake
    voters = row_stake > 0
    all_vote = bool(voters.all())
    consensus_bits = weighted_median_columns(
        normalized_stake_bits(row_stake if all_vote else row_stake[voters]),
        weights_bits if all_vote else weights_bits[voters],
        hp.kappa,
    ).to(dev)
    consensus = consensus_bits.to(_F64) / ONE

    # 2.7 clipping and validator trust (floats on the I32F32 grid compare like the bits)
    clipped = torch.minimum(weights, consensus.unsqueeze(0))
    validator_trust = torch.zeros(n, dtype=_F64, device=dev)
    validator_trust[rows] = clipped.sum(dim=1)

    # 2.8 rank, incentive (and the legacy prerank/trust)
    prerank = row_stake @ weights
    rank = row_stake @ clipped
    incentive = normalize(rank)
    trust = torch.where(prerank > 0, rank / torch.where(prerank > 0, prerank, 1.0), 0.0)

    # 2.9 weights used for bonds. Which entries are present matters only to Yuma3 with liquid
    # alpha; clipping against a zero consensus removes an entry (sparse ``col_clip_sparse``).
    needs_present = hp.yuma3 and hp.liquid_alpha
    bond_present = present
    if hp.bonds_penalty == 0:
        bond_weights = weights
    elif hp.bonds_penalty == U16_MAX:
        bond_weights = clipped
        if needs_present:
            zero_consensus = (consensus_bits == 0).unsqueeze(0)
            bond_present = present & ~((weights > 0) & zero_consensus)
    else:
        bond_weights = torch.lerp(weights, clipped, u16_ratio(hp.bonds_penalty))
        if needs_present:
            bond_present = bond_weights > 0

    # 2.10 / 2.11 bonds and dividends; drop bonds on miners registered since the last epoch
    if inputs.last_mechanism_step_block == 0:
        last_tempo = max(block - hp.tempo, 0)
    else:
        last_tempo = int(inputs.last_mechanism_step_block) + 1
    bonds_in = _take_rows(inputs.bonds, rows).to(dev, _F64)
    fresh_columns = registered >= last_tempo
    if bool(fresh_columns.any()):
        bonds_in.mul_(~fresh_columns)
    if hp.yuma3:
        result = yuma3_bonds(
            bonds_in,
            bond_weights,
            bond_present,
            row_stake,
            incentive,
            consensus,
            bonds_moving_average=hp.bonds_moving_average,
            use_liquid_alpha=hp.liquid_alpha,
            alpha_low=hp.alpha_low,
            alpha_high=hp.alpha_high,
            steepness=hp.alpha_sigmoid_steepness,
        )
    else:
        result = yuma2_bonds(bonds_in, bond_weights, row_stake, incentive, hp.bonds_moving_average)
    dividend_weight = torch.zeros(n, dtype=_F64, device=dev)
    dividend_weight[rows] = result.dividends
    dividends = normalize(dividend_weight)

    # 2.12 bond storage: only rows with a new permit keep bonds
    stored = result.stored
    _zero_rows_(stored, ~new_permit[rows])

    # 2.13 emission
    combined_raw = incentive + dividends
    total = combined_raw.sum()
    if bool(total > 0):
        server_share = incentive / total
        validator_share = dividends / total
        combined_share = combined_raw / total
    else:
        fallback = active_stake if bool(active_stake.sum() > 0) else stake
        server_share = torch.zeros_like(incentive)
        validator_share = fallback.clone()
        combined_share = fallback.clone()
    rao = float(inputs.rao_emission)

    def _rao(share: Tensor) -> Tensor:
        return torch.floor(share * rao).to(_I64)

    return EpochOutputs(
        active=active,
        stake=stake,
        active_stake=active_stake,
        new_validator_permit=new_permit,
        consensus=consensus,
        validator_trust=validator_trust,
        rank=rank,
        incentive=incentive,
        dividends=dividends,
        normalized_server_emission=server_share,
        normalized_validator_emission=validator_share,
        normalized_combined_emission=combined_share,
        server_emission=_rao(server_share),
        validator_emission=_rao(validator_share),
        emission=_rao(combined_share),
        row_uids=rows,
        weights_normalized_rows=weights,
        ema_bonds_rows=result.ema,
        bonds_rows=stored,
        legacy_prerank=prerank,
        legacy_trust=trust,
    )


__all__ = ["run_epoch", "top_k_nonzero"]
