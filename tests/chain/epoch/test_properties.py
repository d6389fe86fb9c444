"""Properties of run_epoch on random subnets (hypothesis, modest example counts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnetkit.chain.coinbase import epoch_payouts
from subnetkit.chain.epoch import EpochHyperparams, EpochInputs, EpochOutputs, run_epoch

BLOCK = 1000


def random_subnet(seed: int, n: int, *, distinct_stake: bool = False) -> EpochInputs:
    """A subnet with sparse random weights, some zero stakes, inactive and fresh uids."""
    rng = np.random.default_rng(seed)
    if distinct_stake:
        stake = rng.permutation(np.arange(1, n + 1)).astype(float) * 1000.0
    else:
        stake = rng.integers(0, 5, n).astype(float) * 1000.0
    weights = rng.integers(0, 65536, (n, n))
    mask = rng.random((n, n)) < 0.6
    weights = np.where(mask, weights, 0)
    bonds = np.where(rng.random((n, n)) < 0.5, rng.integers(0, 65536, (n, n)), 0)
    permit = rng.random(n) < 0.6
    bonds = np.where(permit[:, None], bonds, 0)  # the chain keeps bonds only for permit holders
    last_update = rng.integers(BLOCK - 50, BLOCK + 1, n)
    registered = rng.integers(0, BLOCK - 20, n)
    registered[rng.random(n) < 0.1] = BLOCK - 1  # a few freshly registered miners
    return EpochInputs(
        stake=torch.tensor(stake, dtype=torch.float64),
        weights=torch.tensor(weights, dtype=torch.int64),
        weights_mask=torch.tensor(mask),
        bonds=torch.tensor(bonds, dtype=torch.int64),
        last_update=torch.tensor(last_update, dtype=torch.int64),
        block_at_registration=torch.tensor(registered, dtype=torch.int64),
        validator_permit=torch.tensor(permit),
        current_block=BLOCK,
        last_mechanism_step_block=BLOCK - 11,
        rao_emission=int(rng.integers(0, 10**12)),
    )


# (alpha_low, alpha_high): the default, the extremes, a Yuma3 vector's pair and equal ends.
ALPHA_RANGES = [(45875, 58982), (0, 65535), (6553, 19660), (30000, 30000), (0, 0), (65535, 65535)]


@st.composite
def hyperparams(draw: st.DrawFn) -> EpochHyperparams:
    """Every hyperparameter the epoch reads, each over values that change the numbers."""
    alpha_low, alpha_high = draw(st.sampled_from(ALPHA_RANGES))
    return EpochHyperparams(
        kappa=draw(st.sampled_from([32767, 0, 65535, 16384, 50000])),
        bonds_penalty=draw(st.sampled_from([65535, 0, 30000])),
        # Both ends of the accepted range: 0 (alpha = 1) and 1_000_000 (alpha = 0, none bought).
        bonds_moving_average=draw(st.sampled_from([900_000, 0, 999_999, 1_000_000, 500_000])),
        yuma3=draw(st.booleans()),
        liquid_alpha=draw(st.booleans()),
        alpha_low=alpha_low,
        alpha_high=alpha_high,
        alpha_sigmoid_steepness=draw(st.sampled_from([1000, 0, -1000, 100, 32767, -32768])),
        max_allowed_validators=draw(st.integers(1, 12)),
        tempo=10,
        activity_cutoff=draw(st.sampled_from([30, 5000])),
        # random_subnet stakes are multiples of 1000 up to 4000 (distinct ones go higher).
        stake_threshold=draw(st.sampled_from([0, 1000, 2500, 4001])),
        owner_uid=draw(st.one_of(st.none(), st.integers(0, 3))),
    )


def _sums_to_one_or_zero(x: torch.Tensor) -> bool:
    total = float(x.sum())
    return abs(total - 1.0) < 1e-9 or bool((x == 0).all())


@given(st.integers(0, 2**31), st.integers(2, 14), hyperparams())
@settings(max_examples=60, deadline=None)
def test_incentive_and_dividends_sum_to_one_or_zero(seed: int, n: int, hp) -> None:
    out = run_epoch(random_subnet(seed, n), hp)
    assert _sums_to_one_or_zero(out.incentive)
    assert _sums_to_one_or_zero(out.dividends)
    # Incentive is all zero exactly when no weight counted after clipping.
    assert bool((out.incentive == 0).all()) == bool((out.rank == 0).all())
    if bool((out.incentive == 0).all()):
        assert bool((out.dividends == 0).all())
        assert bool((out.server_emission == 0).all())


def _permute_inputs(inputs: EpochInputs, perm: torch.Tensor) -> EpochInputs:
    def mat(m: torch.Tensor) -> torch.Tensor:
        return m[perm][:, perm]

    return EpochInputs(
        stake=inputs.stake[perm],
        weights=mat(inputs.weights),
        weights_mask=mat(inputs.weights_mask),
        bonds=mat(inputs.bonds),
        last_update=inputs.last_update[perm],
        block_at_registration=inputs.block_at_registration[perm],
        validator_permit=inputs.validator_permit[perm],
        current_block=inputs.current_block,
        last_mechanism_step_block=inputs.last_mechanism_step_block,
        rao_emission=inputs.rao_emission,
    )


VECTOR_OUTPUTS = (
    "active",
    "stake",
    "active_stake",
    "new_validator_permit",
    "consensus",
    "validator_trust",
    "prerank",
    "rank",
    "trust",
    "incentive",
    "dividends",
    "normalized_server_emission",
    "normalized_validator_emission",
    "normalized_combined_emission",
)


@given(st.integers(0, 2**31), st.integers(2, 12), hyperparams(), st.randoms(use_true_random=False))
@settings(max_examples=40, deadline=None)
def test_relabelling_uids_permutes_outputs(seed: int, n: int, hp, rnd) -> None:
    # Distinct stakes: with equal stakes, top-k permits break ties by uid on purpose.
    inputs = random_subnet(seed, n, distinct_stake=True)
    order = list(range(n))
    rnd.shuffle(order)
    perm = torch.tensor(order)
    owner = hp.owner_uid if hp.owner_uid is not None and hp.owner_uid < n else None
    hp_perm = hp
    if owner is not None:
        hp_perm = EpochHyperparams(**{**hp.__dict__, "owner_uid": order.index(owner)})
    base = run_epoch(inputs, hp)
    moved = run_epoch(_permute_inputs(inputs, perm), hp_perm)
    for name in VECTOR_OUTPUTS:
        want, got = getattr(base, name)[perm], getattr(moved, name)
        if want.dtype == torch.bool:
            assert torch.equal(got, want), name
        else:
            assert torch.allclose(got, want, atol=1e-8, rtol=0), name
    for name in ("server_emission", "validator_emission", "emission"):
        diff = (getattr(base, name)[perm] - getattr(moved, name)).abs().max()
        assert int(diff) <= 2, name
    assert (base.bonds[perm][:, perm] - moved.bonds).abs().max() <= 1


@given(
    st.integers(2, 6),
    st.lists(st.integers(1, 65535), min_size=6, max_size=6),
    st.integers(0, 5),
    st.floats(0.01, 0.45),
)
@settings(max_examples=50, deadline=None)
def test_lone_overweighting_validator_is_clipped(
    majority: int, honest_row: list[int], favourite: int, lone_share: float
) -> None:
    """Validators 0..majority-1 agree; the last one puts all its weight on one miner."""
    v = majority + 1
    miners = 6
    n = v + miners
    weights = torch.zeros((n, n), dtype=torch.int64)
    for i in range(majority):
        weights[i, v:] = torch.tensor(honest_row)
    lone = v - 1
    weights[lone, v + favourite] = 65535
    honest_stake = (1.0 - lone_share) / majority
    stake = torch.tensor([honest_stake] * majority + [lone_share] + [0.0] * miners) * 1e9
    inputs = EpochInputs(
        stake=stake.to(torch.float64),
        weights=weights,
        weights_mask=weights > 0,
        bonds=torch.zeros((n, n), dtype=torch.int64),
        last_update=torch.full((n,), 100),
        block_at_registration=torch.zeros(n, dtype=torch.int64),
        validator_permit=torch.tensor([True] * v + [False] * miners),
        current_block=100,
        last_mechanism_step_block=50,
        rao_emission=10**9,
    )
    out = run_epoch(inputs, EpochHyperparams(max_allowed_validators=v))
    honest_norm = torch.tensor(honest_row, dtype=torch.float64) / sum(honest_row)
    # Consensus follows the majority's weights, not the lone validator's.
    assert torch.allclose(out.consensus[v:], honest_norm, atol=1e-9)
    clipped = torch.minimum(out.weights_normalized[lone], out.consensus)
    assert float(clipped[v + favourite]) <= float(out.consensus[v + favourite])
    assert abs(float(out.validator_trust[lone]) - float(clipped.sum())) < 1e-9
    assert float(out.validator_trust[lone]) < 1.0 or float(honest_norm[favourite]) == 1.0
    # Its over-weight buys the favourite nothing beyond consensus: the favourite's rank is
    # what it would be if the lone validator had agreed with the majority.
    assert abs(float(out.rank[v + favourite]) - float(honest_norm[favourite])) < 1e-6
    assert bool((out.rank <= out.consensus + 1e-9).all())


def _run_stateful(seed: int, n: int, hp: EpochHyperparams, epochs: int) -> list[EpochOutputs]:
    inputs = random_subnet(seed, n)
    outs = []
    for k in range(epochs):
        out = run_epoch(inputs, hp)
        outs.append(out)
        inputs = EpochInputs(
            **{
                **inputs.__dict__,
                "bonds": out.bonds,
                "validator_permit": out.new_validator_permit,
                "current_block": inputs.current_block + 11,
                "last_mechanism_step_block": inputs.current_block + 11 * k,
            }
        )
    return outs


@given(st.integers(0, 2**31), st.integers(2, 12), hyperparams())
@settings(max_examples=30, deadline=None)
def test_emission_within_budget_and_bonds_within_u16(seed: int, n: int, hp) -> None:
    for out in _run_stateful(seed, n, hp, epochs=3):
        budget = int(random_subnet(seed, n).rao_emission)
        assert int(out.server_emission.sum() + out.validator_emission.sum()) <= budget
        assert int(out.emission.sum()) <= budget
        assert bool((out.server_emission >= 0).all() and (out.validator_emission >= 0).all())
        assert int(out.bonds.min()) >= 0 and int(out.bonds.max()) <= 65535
        paid = epoch_payouts(out, budget // 2, budget // 3, budget // 7, burn_uids=[0])
        assert all(p >= 0 for p in paid)
        assert sum(paid) <= budget // 2 + budget // 3 + budget // 7


def test_epoch_is_deterministic() -> None:
    hp = EpochHyperparams(yuma3=True, liquid_alpha=True, max_allowed_validators=8)
    a = run_epoch(random_subnet(7, 40), hp)
    b = run_epoch(random_subnet(7, 40), hp)
    for name in (*VECTOR_OUTPUTS, "server_emission", "emission"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(a.bonds, b.bonds)


def test_bad_shapes_are_refused_with_field_name() -> None:
    from subnetkit.core.errors import ConfigError

    inputs = random_subnet(1, 5)
    inputs.bonds = inputs.bonds[:4]
    with pytest.raises(ConfigError, match="bonds"):
        run_epoch(inputs, EpochHyperparams())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    hp = EpochHyperparams(yuma3=True, liquid_alpha=True, max_allowed_validators=16)
    inputs = random_subnet(3, 64)
    cpu = run_epoch(inputs, hp)
    gpu = run_epoch(inputs, hp, device="cuda")
    for name in VECTOR_OUTPUTS:
        want, got = getattr(cpu, name), getattr(gpu, name).cpu()
        if want.dtype == torch.bool:
            assert torch.equal(got, want), name
        else:
            assert torch.allclose(got, want, atol=1e-9, rtol=0), name
    assert (cpu.bonds - gpu.bonds.cpu()).abs().max() <= 1
