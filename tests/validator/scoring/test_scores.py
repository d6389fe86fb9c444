"""Hotkey-keyed moving averages: update rule, no silent decay, resets, weights, restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch

from subnetkit.core.errors import ConfigError
from subnetkit.validator.scores import ScoreStore
from subnetkit.validator.state import StateFileError


def test_moving_average_from_zero() -> None:
    store = ScoreStore(alpha=0.5)
    store.update({"a": 1.0})
    assert store.score("a") == pytest.approx(0.5)
    store.update({"a": 1.0})
    assert store.score("a") == pytest.approx(0.75)
    store.update({"a": 0.0})  # a queried miner that failed folds in a zero
    assert store.score("a") == pytest.approx(0.375)
    record = store.get("a")
    assert record is not None and record.rounds == 3 and record.last_round == 3


def test_unqueried_miners_do_not_decay_by_default() -> None:
    store = ScoreStore(alpha=0.5)
    store.update({"a": 1.0, "b": 1.0})
    for _ in range(20):
        store.update({"a": 1.0})
    assert store.score("b") == pytest.approx(0.5)
    assert store.get("b").rounds == 1  # type: ignore[union-attr]


def test_decay_of_unqueried_miners_is_an_explicit_option() -> None:
    store = ScoreStore(alpha=0.5, decay_unqueried=0.1)
    store.update({"a": 1.0, "b": 1.0})
    store.update({"a": 1.0})
    store.update({"a": 1.0})
    assert store.score("b") == pytest.approx(0.5 * 0.9 * 0.9)
    assert store.score("a") == pytest.approx(0.875)


def test_replaced_hotkey_resets_and_new_owner_of_uid_starts_fresh() -> None:
    store = ScoreStore(alpha=0.5)
    store.update({"old": 1.0, "other": 0.4})
    # uid 0 moves from "old" to "new": the metagraph sync retains only current hotkeys.
    dropped = store.retain(["new", "other"])
    assert dropped == ["old"]
    assert "old" not in store
    uids, weights = store.weights_for({"new": 0, "other": 1}, n=2)
    assert uids == [0, 1]
    assert weights == pytest.approx([0.0, 0.2])
    store.update({"other": 0.4})
    assert store.reset("other") is True
    assert store.reset("other") is False
    assert store.score("other") == 0.0


def test_weights_for_orders_by_uid_and_validates() -> None:
    store = ScoreStore(alpha=1.0)
    store.update_round(["a", "b", "c"], torch.tensor([0.2, 0.9, 0.5]))
    uids, weights = store.weights_for({"c": 2, "a": 0, "b": 1, "unknown": 3}, n=4)
    assert uids == [0, 1, 2, 3]
    assert weights == pytest.approx([0.2, 0.9, 0.5, 0.0])
    with pytest.raises(ConfigError, match="outside"):
        store.weights_for({"a": 4}, n=4)
    with pytest.raises(ConfigError, match="more than one hotkey"):
        store.weights_for({"a": 1, "b": 1}, n=4)


def test_bad_round_input_is_rejected_or_sanitized() -> None:
    store = ScoreStore(alpha=1.0)
    with pytest.raises(ConfigError, match="2 hotkeys but 1 scores"):
        store.update_round(["a", "b"], [0.5])
    with pytest.raises(ConfigError, match="same hotkey twice"):
        store.update_round(["a", "a"], [0.5, 0.5])
    store.update({"nan": float("nan"), "big": 3.0, "neg": -1.0})
    assert store.scores() == {"nan": 0.0, "big": 1.0, "neg": 0.0}
    with pytest.raises(ConfigError, match="alpha"):
        ScoreStore(alpha=0.0)
    with pytest.raises(ConfigError, match="decay_unqueried"):
        ScoreStore(decay_unqueried=1.5)


def test_restart_resumes_scores(tmp_path: Path) -> None:
    path = tmp_path / "state" / "scores.json"
    store = ScoreStore(path, alpha=0.5)
    store.update({"a": 1.0, "b": 0.2})
    store.update({"a": 1.0})
    store.save()
    resumed = ScoreStore.load(path, alpha=0.5)
    assert resumed.scores() == pytest.approx(store.scores())
    assert resumed.round == 2
    assert resumed.get("a").rounds == 2  # type: ignore[union-attr]
    resumed.update({"a": 0.0})  # continues the average, not a fresh one
    assert resumed.score("a") == pytest.approx(0.375)


def test_load_without_file_starts_empty(tmp_path: Path) -> None:
    store = ScoreStore.load(tmp_path / "scores.json")
    assert len(store) == 0 and store.round == 0


async def test_async_save_then_load(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    store = ScoreStore(path, alpha=1.0)
    store.update({"a": 0.3})
    async with asyncio.timeout(10):
        await asyncio.gather(store.asave(), store.asave())
    assert ScoreStore.load(path).score("a") == pytest.approx(0.3)


def test_torn_write_never_corrupts(tmp_path: Path) -> None:
    """A crash between writing the temp file and the replace leaves the old state intact."""
    path = tmp_path / "scores.json"
    store = ScoreStore(path, alpha=1.0)
    store.update({"a": 0.7})
    store.save()
    # Simulate the crash: a half-written temp file of a newer state, never renamed.
    torn = tmp_path / ".scores.json.abc123.tmp"
    torn.write_bytes(b'{"format":"subnetkit.validator.scores/1","round":2,"miners":{"a":{"sc')
    resumed = ScoreStore.load(path, alpha=1.0)
    assert resumed.score("a") == pytest.approx(0.7)
    assert resumed.round == 1
    assert not torn.exists()  # the interrupted write is cleaned up


def test_corrupt_or_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    path.write_text("{not json")
    with pytest.raises(StateFileError, match="not valid JSON"):
        ScoreStore.load(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StateFileError, match=r"expected 'subnetkit\.validator\.scores/1'"):
        ScoreStore.load(path)
    path.write_text(json.dumps({"format": ScoreStore.FORMAT, "round": 1, "miners": {"a": 3}}))
    with pytest.raises(StateFileError, match="malformed"):
        ScoreStore.load(path)


def test_save_without_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no path"):
        ScoreStore().save()


def test_weights_for_feeds_the_shared_weight_pipeline() -> None:
    """The store's raw vector goes straight into chain.weights.process_weights."""
    from subnetkit.chain.weights import process_weights

    store = ScoreStore(alpha=1.0)
    store.update({"a": 0.9, "b": 0.3, "c": 0.0})
    uid_of = {"a": 2, "b": 0, "c": 1, "fresh": 3}
    uids, weights = store.weights_for(uid_of, n=4)
    out_uids, values = process_weights(
        uids, weights, 4, min_allowed_weights=1, max_weight_limit=65535
    )
    assert out_uids == [0, 2]
    assert values == [21845, 65535]  # 0.3 : 0.9, max-upscaled to u16
