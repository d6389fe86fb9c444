"""One Yuma consensus epoch as a pure function over tensors (yuma.md §2, the chain's sparse epoch).

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

from chain.epoch.bonds import yuma2_bonds, yuma3_bonds
from chain.epoch.median import normalized_stake_bits, weighted_median_columns
from chain.epoch.quant import ONE, U16_MAX, normalize, snap, u16_ratio
from chain.epoch.types import EpochHyperparams, EpochInputs, EpochOutputs
from subnetkit.errors import ConfigError

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


def _mask_weights(
    inputs: EpochInputs,
    rows: Tensor,
    permit_in: Tensor,
    owner: int | None,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Stored weights of ``rows`` after §2.5's masks: (u16 values as int64, present mask)."""
    weights = inputs.weights[rows.to(inputs.weights.device)].to(device, _I64)
    present = inputs.weights_mask[rows.to(inputs.weights_mask.device)].to(device, torch.bool)
    registered = inputs.block_at_registration.to(device, _I64)
    last_update = inputs.last_update.to(device, _I64)[rows]
    present = present & permit_in[rows].unsqueeze(1)  # 1. rows without an input permit
    r = rows.shape[0]
    diagonal = torch.zeros_like(present)
    diagonal[torch.arange(r, device=device), rows] = True
    if owner is not None:
        diagonal &= (rows != owner).unsqueeze(1)  # 2. the owner keeps its self-weight
    present &= ~diagonal
    present &= last_update.unsqueeze(1) > registered.unsqueeze(0)  # 3. outdated entries
    if inputs.commit_block is not None:  # 4. commit-reveal: committed before j registered
        commit = inputs.commit_block.to(device, _I64)[rows].unsqueeze(1)
        present &= ~((commit >= 0) & (commit < registered.unsqueeze(0)))
    return torch.where(present, weights, 0), present


def _row_normalize_bits(weights_u16: Tensor) -> Tensor:
    """Each row divided by its sum, as exact I32F32 bits (``(w << 32) / Σw`` truncated)."""
    sums = weights_u16.sum(dim=1, keepdim=True)
    safe = torch.where(sums > 0, sums, 1)
    return torch.div(weights_u16 << 32, safe, rounding_mode="floor")


def run_epoch(
    inputs: EpochInputs, hp: EpochHyperparams, device: str | torch.device | None = None
) -> EpochOutputs:
    """Run one epoch and return every per-uid output (§2.1-2.14).

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
    active = last_update + hp.activity_cutoff >= block

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
    weights_u16, present = _mask_weights(inputs, rows, permit_in, owner, dev)
    weights_bits = _row_normalize_bits(weights_u16)
    weights = weights_bits.to(_F64) / ONE
    row_stake = active_stake[rows]

    # 2.6 consensus over validators with active stake
    voters = row_stake > 0
    consensus_bits = weighted_median_columns(
        normalized_stake_bits(row_stake[voters]), weights_bits[voters], hp.kappa
    )
    consensus = consensus_bits.to(_F64) / ONE

    # 2.7 clipping and validator trust; clipping against a zero consensus removes the entry
    over = weights_bits > consensus_bits.unsqueeze(0)
    clipped_bits = torch.where(over, consensus_bits.unsqueeze(0), weights_bits)
    clipped = clipped_bits.to(_F64) / ONE
    present_clipped = present & ~(over & (consensus_bits == 0).unsqueeze(0))
    validator_trust = torch.zeros(n, dtype=_F64, device=dev)
    validator_trust[rows] = clipped.sum(dim=1)

    # 2.8 rank, incentive (and the legacy prerank/trust)
    prerank = row_stake @ weights
    rank = row_stake @ clipped
    incentive = normalize(rank)
    trust = torch.where(prerank > 0, rank / torch.where(prerank > 0, prerank, 1.0), 0.0)

    # 2.9 weights used for bonds
    if hp.bonds_penalty == 0:
        bond_weights, bond_present = weights, present
    elif hp.bonds_penalty == U16_MAX:
        bond_weights, bond_present = clipped, present_clipped
    else:
        beta = u16_ratio(hp.bonds_penalty)
        bond_weights = weights + beta * (clipped - weights)
        bond_present = bond_weights > 0

    # 2.10 / 2.11 bonds and dividends; drop bonds on miners registered since the last epoch
    if inputs.last_mechanism_step_block == 0:
        last_tempo = max(block - hp.tempo, 0)
    else:
        last_tempo = int(inputs.last_mechanism_step_block) + 1
    fresh_columns = registered >= last_tempo
    bonds_in = inputs.bonds[rows.to(inputs.bonds.device)].to(dev, _I64)
    bonds_in = torch.where(fresh_columns.unsqueeze(0), 0, bonds_in)
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
    stored = torch.where(new_permit[rows].unsqueeze(1), result.stored, 0)

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
        prerank=prerank,
        rank=rank,
        trust=trust,
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
    )


__all__ = ["run_epoch", "top_k_nonzero"]
