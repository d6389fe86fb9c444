"""Individual epoch rules on small hand-built subnets: each test pins one behaviour of
docs/epoch.md §2.
"""

from __future__ import annotations

import torch

from subnetkit.chain.coinbase import epoch_payouts
from subnetkit.chain.epoch import EpochHyperparams, EpochInputs, activity_cutoff_blocks, run_epoch
from subnetkit.chain.epoch.yuma import top_k_nonzero

BLOCK = 500


def subnet(
    n: int,
    stake: list[float],
    weights: dict[tuple[int, int], int],
    permit: list[bool],
    **overrides,
) -> EpochInputs:
    w = torch.zeros((n, n), dtype=torch.int64)
    mask = torch.zeros((n, n), dtype=torch.bool)
    for (i, j), value in weights.items():
        w[i, j] = value
        mask[i, j] = True
    fields = dict(
        stake=torch.tensor(stake, dtype=torch.float64),
        weights=w,
        weights_mask=mask,
        bonds=torch.zeros((n, n), dtype=torch.int64),
        last_update=torch.full((n,), BLOCK - 1, dtype=torch.int64),
        block_at_registration=torch.zeros(n, dtype=torch.int64),
        validator_permit=torch.tensor(permit),
        current_block=BLOCK,
        last_mechanism_step_block=BLOCK - 10,
        rao_emission=1_000_000,
    )
    fields.update(overrides)
    return EpochInputs(**fields)


def test_activity_cutoff_blocks() -> None:
    assert activity_cutoff_blocks(13_889, 360) == 5000
    assert activity_cutoff_blocks(1000, 0) == 1


def test_top_k_ties_drop_the_lower_uid() -> None:
    values = torch.tensor([5, 3, 3, 0, 3], dtype=torch.int64)
    assert top_k_nonzero(values, 2).tolist() == [True, False, False, False, True]
    assert top_k_nonzero(values, 10).tolist() == [True, True, True, False, True]


def test_inactive_validator_has_no_active_stake() -> None:
    inputs = subnet(
        3,
        [1.0, 1.0, 0.0],
        {(0, 2): 65535, (1, 2): 65535},
        [True, True, False],
        last_update=torch.tensor([BLOCK - 1, 10, 0]),
    )
    out = run_epoch(inputs, EpochHyperparams(activity_cutoff=100))
    assert out.active.tolist() == [True, False, False]
    assert out.active_stake.tolist() == [1.0, 0.0, 0.0]
    assert float(out.dividends[1]) == 0.0


def test_stake_threshold_and_owner_exemption() -> None:
    inputs = subnet(3, [100.0, 50.0, 10.0], {}, [True, True, False])
    out = run_epoch(inputs, EpochHyperparams(stake_threshold=60))
    assert out.stake.tolist() == [1.0, 0.0, 0.0]
    owned = run_epoch(inputs, EpochHyperparams(stake_threshold=60, owner_uid=2))
    assert float(owned.stake[2]) > 0
    assert bool(owned.new_validator_permit[2])


def test_self_weight_masked_except_owner() -> None:
    inputs = subnet(2, [1.0, 1.0], {(0, 0): 65535, (0, 1): 65535}, [True, False])
    out = run_epoch(inputs, EpochHyperparams())
    assert out.weights_normalized[0].tolist() == [0.0, 1.0]
    owned = run_epoch(inputs, EpochHyperparams(owner_uid=0))
    assert owned.weights_normalized[0].tolist() == [0.5, 0.5]


def test_rows_without_input_permit_are_emptied() -> None:
    inputs = subnet(3, [1.0, 1.0, 0.0], {(0, 2): 65535, (1, 2): 65535}, [True, False, False])
    out = run_epoch(inputs, EpochHyperparams())
    assert out.weights_normalized[1].tolist() == [0.0, 0.0, 0.0]
    assert float(out.validator_trust[1]) == 0.0


def test_outdated_weights_are_masked() -> None:
    # uid 2 re-registered after validator 0 last set weights.
    inputs = subnet(
        3,
        [1.0, 0.0, 0.0],
        {(0, 1): 65535, (0, 2): 65535},
        [True, False, False],
        block_at_registration=torch.tensor([0, 0, BLOCK - 1]),
        last_update=torch.tensor([BLOCK - 5, 0, BLOCK - 1]),
    )
    out = run_epoch(inputs, EpochHyperparams())
    assert out.weights_normalized[0].tolist() == [0.0, 1.0, 0.0]


def test_commit_reveal_masks_weights_committed_before_registration() -> None:
    inputs = subnet(
        3,
        [1.0, 0.0, 0.0],
        {(0, 1): 65535, (0, 2): 65535},
        [True, False, False],
        block_at_registration=torch.tensor([0, 0, 300]),
        commit_block=torch.tensor([250, -1, -1]),
    )
    out = run_epoch(inputs, EpochHyperparams())
    assert out.weights_normalized[0].tolist() == [0.0, 1.0, 0.0]
    no_commit = run_epoch(
        EpochInputs(**{**inputs.__dict__, "commit_block": torch.tensor([-1, -1, -1])}),
        EpochHyperparams(),
    )
    assert no_commit.weights_normalized[0].tolist() == [0.0, 0.5, 0.5]


def test_liquid_alpha_only_acts_in_yuma3() -> None:
    inputs = subnet(
        4,
        [3.0, 1.0, 0.0, 0.0],
        {(0, 2): 65535, (0, 3): 20000, (1, 2): 10000, (1, 3): 65535},
        [True, True, False, False],
        bonds=torch.tensor([[0, 0, 30000, 1000], [0, 0, 500, 40000], [0] * 4, [0] * 4]),
    )
    plain = run_epoch(inputs, EpochHyperparams())
    liquid = run_epoch(inputs, EpochHyperparams(liquid_alpha=True))
    assert torch.equal(plain.bonds, liquid.bonds)
    y3 = run_epoch(inputs, EpochHyperparams(yuma3=True))
    y3_liquid = run_epoch(inputs, EpochHyperparams(yuma3=True, liquid_alpha=True))
    assert not torch.equal(y3.bonds, y3_liquid.bonds)


def test_bonds_penalty_zero_buys_with_unclipped_weights() -> None:
    # Validator 1 (minority) over-weights uid 3; with penalty 0 its bond there grows more.
    inputs = subnet(
        4,
        [3.0, 1.0, 0.0, 0.0],
        {(0, 2): 65535, (1, 2): 10000, (1, 3): 65535},
        [True, True, False, False],
    )
    full = run_epoch(inputs, EpochHyperparams(yuma3=True))
    none = run_epoch(inputs, EpochHyperparams(yuma3=True, bonds_penalty=0))
    assert int(none.bonds[1, 3]) > int(full.bonds[1, 3])


def test_bonds_stored_only_for_new_permits_and_recent_columns_dropped() -> None:
    inputs = subnet(
        4,
        [3.0, 1.0, 0.0, 0.0],
        {(0, 2): 65535, (0, 3): 65535, (1, 2): 65535},
        [True, True, False, False],
        bonds=torch.tensor([[0, 0, 1000, 1000], [0, 0, 1000, 0], [0] * 4, [0] * 4]),
        block_at_registration=torch.tensor([0, 0, 0, BLOCK - 5]),
    )
    out = run_epoch(inputs, EpochHyperparams(max_allowed_validators=1))
    assert out.new_validator_permit.tolist() == [True, False, False, False]
    assert out.bonds[1].tolist() == [0, 0, 0, 0]
    rows = dict(out.stored_bond_rows())
    assert list(rows) == [0]
    assert torch.equal(rows[0], out.bonds[0])


def test_zero_weights_fall_back_to_stake_emission_and_payouts() -> None:
    inputs = subnet(2, [3.0, 1.0], {}, [True, True])
    out = run_epoch(inputs, EpochHyperparams())
    assert out.server_emission.tolist() == [0, 0]
    assert out.validator_emission.tolist() == [750_000, 250_000]
    # No incentive anywhere: validators also share the miners' pending alpha.
    assert epoch_payouts(out, 400, 400) == [600, 200]


def test_payouts_burn_owner_incentive() -> None:
    inputs = subnet(3, [1.0, 0.0, 0.0], {(0, 1): 65535, (0, 2): 65535}, [True, False, False])
    out = run_epoch(inputs, EpochHyperparams())
    paid = epoch_payouts(out, 1000, 1000, burn_uids=[2])
    assert paid == [1000, 500, 0]


def test_bonds_moving_average_one_million_keeps_previous_bonds() -> None:
    """alpha = 0 (bonds_moving_average = 1_000_000, the top of the accepted range): nothing is
    bought, the EMA is the previous bonds column-normalised, and every output stays finite."""
    bonds = torch.zeros((3, 3), dtype=torch.int64)
    bonds[0, 2], bonds[1, 2] = 30000, 10000
    inputs = subnet(
        3,
        [1.0, 1.0, 0.0],
        {(0, 2): 65535, (1, 2): 65535},
        [True, True, False],
        bonds=bonds,
    )
    for yuma3 in (False, True):
        hp = EpochHyperparams(bonds_moving_average=1_000_000, yuma3=yuma3)
        out = run_epoch(inputs, hp)
        assert bool(torch.isfinite(out.dividends).all()), out.dividends
        assert bool(torch.isfinite(out.ema_bonds).all()), out.ema_bonds
        assert int(out.bonds.min()) >= 0 and int(out.bonds.max()) <= 65535
        assert abs(float(out.dividends.sum()) - 1.0) < 1e-12
        # Dividends follow the previous bonds 3:1, not the equal weights bought this epoch.
        assert abs(float(out.dividends[0]) - 0.75) < 1e-9
        if yuma3:
            assert out.bonds[:2, 2].tolist() == [30000, 10000]
        else:
            assert out.bonds[:2, 2].tolist() == [65535, 21845]


def test_bonds_moving_average_zero_buys_only_this_epoch() -> None:
    """alpha = 1: the previous bonds are forgotten entirely."""
    bonds = torch.zeros((3, 3), dtype=torch.int64)
    bonds[0, 2] = 65535
    inputs = subnet(
        3, [1.0, 3.0, 0.0], {(0, 2): 65535, (1, 2): 65535}, [True, True, False], bonds=bonds
    )
    out = run_epoch(inputs, EpochHyperparams(bonds_moving_average=0))
    assert abs(float(out.dividends[1]) - 0.75) < 1e-9
    assert out.bonds[:2, 2].tolist() == [21845, 65535]
