"""The shared weight pipeline: what validators submit is exactly what the chain accepts."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subnetkit.chain.weights import WeightsError, check_weights, max_upscale_u16, process_weights
from subnetkit.core.errors import ChainError


def _check(uids, values, **overrides):
    kwargs = dict(
        caller_uid=0,
        n=8,
        has_permit=True,
        is_owner=False,
        min_allowed_weights=0,
        max_weight_limit=65535,
    )
    kwargs.update(overrides)
    check_weights(uids, values, **kwargs)


def test_max_upscale_u16_matches_chain_examples() -> None:
    assert max_upscale_u16([0, 0, 0]) == [0, 0, 0]
    assert max_upscale_u16([1, 2, 4]) == [16384, 32768, 65535]  # 16383.75 rounds up
    assert max_upscale_u16([65535, 1]) == [65535, 1]
    # 65535/40000 is truncated to I32F32 first, so 32767.5 lands just below the half: 32767.
    assert max_upscale_u16([40000, 20000]) == [65535, 32767]
    assert max_upscale_u16([0.5, 0.25]) == [65535, 32768]
    assert max_upscale_u16([]) == []


@given(st.lists(st.integers(0, 65535), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_max_upscale_is_idempotent(values: list[int]) -> None:
    once = max_upscale_u16(values)
    assert max_upscale_u16(once) == once
    if max(values) > 0:
        assert max(once) == 65535


@pytest.mark.parametrize(
    ("uids", "values", "overrides", "code"),
    [
        ([1, 2], [1], {}, "length_mismatch"),
        ([1, 1], [1, 2], {}, "duplicate_uid"),
        ([1, 9], [1, 2], {}, "uid_out_of_range"),
        ([1], [70000], {}, "invalid_value"),
        ([1, 2], [1, 2], {"has_permit": False}, "no_validator_permit"),
        ([1, 2], [1, 2], {"min_allowed_weights": 3}, "too_few_weights"),
        ([1, 2], [65535, 1], {"max_weight_limit": 40000}, "weight_above_limit"),
    ],
)
def test_check_weights_refuses_with_typed_reason(uids, values, overrides, code) -> None:
    with pytest.raises(WeightsError) as info:
        _check(uids, values, **overrides)
    assert info.value.code == code
    assert isinstance(info.value, ChainError)
    assert info.value.status in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
    )


def test_check_weights_exemptions() -> None:
    # A lone self-weight needs no permit, no count and ignores the limit.
    _check([0], [65535], has_permit=False, min_allowed_weights=5, max_weight_limit=100)
    # The owner needs no permit.
    _check([1, 2], [1, 2], has_permit=False, is_owner=True)
    # min_allowed_weights is capped by n.
    _check([1, 2], [1, 2], n=3, min_allowed_weights=2)
    # Exactly at the limit is allowed.
    _check([1, 2], [65535, 65535], max_weight_limit=32768)


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30),
    st.integers(0, 12),
    st.sampled_from([65535, 30000, 13107, 8000]),
)
@settings(max_examples=80, deadline=None)
def test_process_weights_output_is_accepted(scores, min_allowed, limit) -> None:
    n = 32
    uids = list(range(len(scores)))
    try:
        out_uids, values = process_weights(
            uids, scores, n, min_allowed_weights=min_allowed, max_weight_limit=limit
        )
    except WeightsError as exc:
        # Refused only when too few scores are visible at u16 resolution for the limit.
        assert exc.code == "weight_above_limit"
        assert limit < 65535
        visible = sum(1 for s in scores if s > max(scores) / 65535 / 2)
        assert visible * limit / 65535 < 1.0 + 1e-3 or visible < len(scores)
        return
    assert out_uids == sorted(set(out_uids))
    assert max(values) == 65535
    assert len(out_uids) >= min(min_allowed, n)
    check_weights(
        out_uids,
        values,
        caller_uid=31,
        n=n,
        has_permit=True,
        is_owner=False,
        min_allowed_weights=min_allowed,
        max_weight_limit=limit,
    )


def test_process_weights_keeps_proportions_and_pads_with_zeros() -> None:
    uids, values = process_weights(
        [3, 1], [2.0, 1.0], 10, min_allowed_weights=4, max_weight_limit=65535
    )
    assert uids == [0, 1, 2, 3]
    assert values == [0, 32768, 0, 65535]


def test_process_weights_all_zero_is_uniform() -> None:
    uids, values = process_weights(
        [0, 1], [0.0, 0.0], 3, min_allowed_weights=0, max_weight_limit=65535
    )
    assert uids == [0, 1, 2]
    assert values == [65535, 65535, 65535]


@pytest.mark.parametrize(
    ("uids", "weights", "code"),
    [
        ([0, 0], [1.0, 1.0], "duplicate_uid"),
        ([0, 5], [1.0, 1.0], "uid_out_of_range"),
        ([0], [float("nan")], "invalid_value"),
        ([0], [-1.0], "invalid_value"),
        ([0], [1.0, 2.0], "length_mismatch"),
        # A float uid used to be truncated silently (1.7 -> 1), a string to raise ValueError.
        ([0, 1.7], [1.0, 1.0], "invalid_uid"),
        ([0, 2.0], [1.0, 1.0], "invalid_uid"),
        (["1"], [1.0], "invalid_uid"),
        ([None], [1.0], "invalid_uid"),
        ([True], [1.0], "invalid_uid"),
        ([0], ["1.5"], "invalid_value"),
        ([0], [None], "invalid_value"),
        ([0], [True], "invalid_value"),
    ],
)
def test_process_weights_rejects_bad_input(uids, weights, code) -> None:
    with pytest.raises(WeightsError) as info:
        process_weights(uids, weights, 5, min_allowed_weights=0, max_weight_limit=65535)
    assert info.value.code == code
    assert info.value.status == grpc.StatusCode.INVALID_ARGUMENT


def test_process_weights_invalid_uid_message_says_what_to_fix() -> None:
    with pytest.raises(WeightsError, match=r"uids\[1\] is 1\.7 \(float\); uids must be integers"):
        process_weights([0, 1.7], [1.0, 1.0], 5, min_allowed_weights=0, max_weight_limit=65535)


def test_process_weights_accepts_numpy_and_torch_integers() -> None:
    """Validators often hold uids in arrays; integer scalars of any library are fine."""
    import numpy as np
    import torch

    uids = [np.int64(0), torch.tensor(2), np.uint16(1)]
    out_uids, values = process_weights(
        uids,
        [np.float32(1.0), torch.tensor(2.0), 1],
        5,
        min_allowed_weights=0,
        max_weight_limit=65535,
    )
    assert out_uids == [0, 1, 2]
    assert all(type(u) is int for u in out_uids)
    assert values == [32768, 32768, 65535]
