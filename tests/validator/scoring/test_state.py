"""Crash-safe state files and the commit-reveal salt store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.validator.state import (
    CommitStore,
    PendingCommit,
    StateFileError,
    atomic_write_json,
    new_salt,
    read_json,
)


def _commit(hash_: str, netuid: int = 1, commit_block: int = 10, reveal_block: int = 20):
    return PendingCommit(
        netuid=netuid,
        hotkey="5FakeHotkey",
        commit_hash=hash_,
        uids=(0, 1, 2),
        weights=(65535, 100, 0),
        salt=new_salt(),
        version_key=7,
        commit_block=commit_block,
        reveal_block=reveal_block,
    )


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    atomic_write_json(path, {"format": "f", "v": 1})
    atomic_write_json(path, {"format": "f", "v": 2})
    assert read_json(path, expected_format="f") == {"format": "f", "v": 2}
    assert sorted(os.listdir(tmp_path)) == ["x.json"]


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    atomic_write_json(path, {"format": "f", "v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"format": "f", "v": object()})  # not serializable
    assert read_json(path, expected_format="f") == {"format": "f", "v": 1}


def test_salts_are_random_bytes() -> None:
    salts = {new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(isinstance(s, bytes) and len(s) == 16 for s in salts)
    assert len(new_salt(4)) == 4
    with pytest.raises(ConfigError):
        new_salt(0)


def test_pending_commit_validates_pairs() -> None:
    with pytest.raises(ConfigError, match="pair up"):
        PendingCommit(1, "hk", "h", (0, 1), (5,), b"s", 0, 1, 2)
    with pytest.raises(ConfigError, match="empty salt"):
        PendingCommit(1, "hk", "h", (0,), (5,), b"", 0, 1, 2)


def test_commits_survive_restart_and_come_due(tmp_path: Path) -> None:
    path = tmp_path / "commits.json"
    store = CommitStore(path)
    first, second, other = (
        _commit("aa"),
        _commit("bb", commit_block=15, reveal_block=25),
        _commit("cc", netuid=2),
    )
    for commit in (first, second, other):
        store.add(commit)
    reopened = CommitStore(path)  # a restart
    assert reopened.pending(1) == [first, second]
    assert reopened.due(block=19, netuid=1) == []
    assert reopened.due(block=20, netuid=1) == [first]
    assert reopened.remove("aa") == 1
    assert reopened.remove(["aa", "zz"]) == 0
    assert CommitStore(path).pending() == [other, second]  # oldest commit first


async def test_async_mutations_persist(tmp_path: Path) -> None:
    path = tmp_path / "commits.json"
    store = CommitStore(path)
    await store.aadd(_commit("aa"))
    assert "aa" in CommitStore(path)
    assert await store.aremove("aa") == 1
    assert len(CommitStore(path)) == 0


def test_torn_commit_write_keeps_previous_commits(tmp_path: Path) -> None:
    path = tmp_path / "commits.json"
    store = CommitStore(path)
    store.add(_commit("aa"))
    (tmp_path / ".commits.json.xyz.tmp").write_text('{"format": "subnetkit.validator.comm')
    assert [c.commit_hash for c in CommitStore(path).pending()] == ["aa"]


def test_malformed_commit_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "commits.json"
    path.write_text('{"format": "subnetkit.validator.commits/1", "commits": [{"netuid": 1}]}')
    with pytest.raises(StateFileError, match="malformed commit"):
        CommitStore(path)


def test_commit_from_the_weight_pipeline_is_revealable_after_restart(tmp_path: Path) -> None:
    """Scores -> process_weights -> commit (chain's hash) -> restart -> same hash reproduced."""
    from subnetkit.chain.weights import process_weights
    from subnetkit.core.keys import dev_signer
    from subnetkit.validator.scores import ScoreStore

    scores = ScoreStore(alpha=1.0)
    scores.update({"a": 0.9, "b": 0.1})
    raw_uids, raw_weights = scores.weights_for({"a": 0, "b": 1}, n=2)
    uids, weights = process_weights(
        raw_uids, raw_weights, 2, min_allowed_weights=1, max_weight_limit=65535
    )
    hotkey = dev_signer("alice").ss58
    commit = PendingCommit.create(
        hotkey=hotkey,
        netuid=3,
        uids=uids,
        weights=weights,
        version_key=1,
        commit_block=100,
        reveal_block=120,
    )
    path = tmp_path / "commits.json"
    CommitStore(path).add(commit)
    (restored,) = CommitStore(path).due(block=120, netuid=3)
    assert restored == commit
    assert restored.matches_hash()
    tampered = PendingCommit.from_json({**restored.to_json(), "salt": "00" * 16})
    assert not tampered.matches_hash()
