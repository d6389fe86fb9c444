"""Session-mode response sampling: which responses a client verifies, and the strict list."""

from __future__ import annotations

import pytest

from subnetkit.validator.response_checks import ResponseChecks


def test_outside_session_mode_every_response_is_verified() -> None:
    checks = ResponseChecks(session_sample=1e-9)
    assert all(checks.wants("miner", session=False) for _ in range(100))


def test_session_mode_verifies_a_sample_until_a_miner_fails_once() -> None:
    checks = ResponseChecks(session_sample=0.25)
    picked = sum(checks.wants("miner", session=True) for _ in range(4000))
    assert 700 < picked < 1300  # about a quarter
    checks.failed("miner")
    assert all(checks.wants("miner", session=True) for _ in range(100))
    assert sum(checks.wants("other", session=True) for _ in range(4000)) < 1300


def test_the_strict_list_is_bounded() -> None:
    checks = ResponseChecks(session_sample=1e-9, max_strict=2)
    for hotkey in ("a", "b", "c"):
        checks.failed(hotkey)
    assert not any(checks.wants("a", session=True) for _ in range(50))  # evicted, oldest first
    assert checks.wants("c", session=True)


@pytest.mark.parametrize("sample", [0.0, -1.0, 1.5])
def test_a_sample_outside_zero_to_one_is_refused(sample: float) -> None:
    with pytest.raises(ValueError, match="session_sample"):
        ResponseChecks(session_sample=sample)
