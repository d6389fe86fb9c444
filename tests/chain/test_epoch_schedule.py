"""The dynamic epoch schedule (tempo since the last epoch, owner trigger, MAX_TEMPO, at most two
epochs per block) and the legacy rule, on real state driven block by block."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from subnetkit.chain.commit_reveal import commit_hash
from subnetkit.chain.errors import DispatchError
from subnetkit.chain.state import State
from subnetkit.chain.transition.block import BlockExecutor
from subnetkit.chain.transition.context import Ctx, EventSink
from subnetkit.chain.transition.schedule import (
    MAX_TEMPO,
    blocks_until_next_epoch,
    epoch_index,
    is_due,
)
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from tests.chain.mechanism_state import ALICE, BOB, call, hotkeys, new_state, subnet


def epochs_by_block(state: State, first: int, last: int) -> dict[int, list[int]]:
    """Execute blocks ``first..last`` (hooks only); the netuids whose epoch ran, per block."""
    ran: dict[int, list[int]] = {}
    for number in range(first, last + 1):
        executor = BlockExecutor(state, number)
        executor.initialize()
        netuids = [
            int(data["netuid"]) for name, data, _ in executor.sink.events if name == "EpochRun"
        ]
        if netuids:
            ran[number] = netuids
        state.flush()
    return ran


def test_dynamic_epoch_every_tempo_blocks_from_the_last_one() -> None:
    state = new_state(epoch_schedule="dynamic")  # dev tempo 10
    netuid = subnet(state, hotkeys(1)[0], [])  # created at block 1
    sn = Ctx(state, 1, EventSink()).subnet(netuid)
    # due when block - last epoch (or creation) >= tempo: 1 + 10 = 11, then every 10 blocks
    assert blocks_until_next_epoch(state, sn, 1) == 10
    assert epochs_by_block(state, 2, 31) == {11: [netuid], 21: [netuid], 31: [netuid]}
    assert epoch_index(state, Ctx(state, 31, EventSink()).subnet(netuid), 31) == 3


def test_legacy_rule_kept_as_a_genesis_option() -> None:
    state = new_state(epoch_schedule="legacy")
    netuid = subnet(state, hotkeys(1)[0], [])
    # (b + netuid + 1) % (tempo + 1) == 0 with netuid 1, tempo 10: b = 9, 20, 31
    assert epochs_by_block(state, 2, 31) == {9: [netuid], 20: [netuid], 31: [netuid]}
    with pytest.raises(DispatchError) as err:
        call(state, ALICE, block=32, trigger_epoch=pb.TriggerEpoch(netuid=netuid))
    assert err.value.code == "legacy_schedule"


def test_owner_trigger_runs_the_epoch_at_the_next_block() -> None:
    state = new_state(epoch_schedule="dynamic")
    netuid = subnet(state, hotkeys(1)[0], [])
    assert epochs_by_block(state, 2, 12) == {11: [netuid]}
    with pytest.raises(DispatchError) as err:
        call(state, BOB, block=13, trigger_epoch=pb.TriggerEpoch(netuid=netuid))
    assert err.value.code == "not_owner"
    call(state, ALICE, block=13, trigger_epoch=pb.TriggerEpoch(netuid=netuid))
    with pytest.raises(DispatchError) as err:
        call(state, ALICE, block=13, trigger_epoch=pb.TriggerEpoch(netuid=netuid))
    assert err.value.code == "epoch_already_triggered"
    sn = Ctx(state, 13, EventSink()).subnet(netuid)
    assert blocks_until_next_epoch(state, sn, 13) == 1
    # triggered for block 14; the tempo then counts from 14: next at 24
    assert epochs_by_block(state, 13, 25) == {14: [netuid], 24: [netuid]}


def test_at_most_two_epochs_per_block_the_rest_deferred() -> None:
    state = new_state(epoch_schedule="dynamic")
    a, b, c = (subnet(state, hk, []) for hk in hotkeys(3))  # all created at block 1
    # all three fall due at 11: netuids a, b run; c waits one block. The tempo then counts
    # from each one's own epoch: a, b at 21, c at 22.
    assert epochs_by_block(state, 2, 22) == {11: [a, b], 12: [c], 21: [a, b], 22: [c]}


def test_past_max_tempo_an_epoch_runs_whatever_the_tempo() -> None:
    state = new_state(epoch_schedule="dynamic")
    netuid = subnet(state, hotkeys(1)[0], [])
    sn = Ctx(state, 1, EventSink()).subnet(netuid)
    huge = replace(sn, hyperparams={**sn.hyperparams, "tempo": 100_000}, last_epoch_block=5)
    assert not is_due(state, huge, 5 + MAX_TEMPO)
    assert is_due(state, huge, 5 + MAX_TEMPO + 1)
    off = replace(huge, hyperparams={**sn.hyperparams, "tempo": 0})
    assert not is_due(state, off, 5 + MAX_TEMPO + 1)


def test_commit_reveal_counts_dynamic_epochs() -> None:
    state = new_state(epoch_schedule="dynamic")
    owner_hk, validator = hotkeys(2)
    netuid = subnet(state, owner_hk, [(validator, BOB)])  # validator is uid 1
    salt = hashlib.sha256(b"salt").digest()
    digest = commit_hash(validator, netuid, [1], [65535], salt, 0)
    sink = call(
        state,
        validator,
        block=3,
        commit_weights=pb.CommitWeights(netuid=netuid, commit_hash=digest),
    )
    ((reveal_from,),) = [
        (data["reveal_from_block"],) for name, data, _ in sink.events if name == "WeightsCommitted"
    ]
    assert reveal_from == 11  # the next epoch (index 1) starts at block 11
    reveal = pb.RevealWeights(netuid=netuid, uids=[1], weights=[65535], salt=salt)
    with pytest.raises(DispatchError) as err:
        call(state, validator, block=5, reveal_weights=reveal)
    assert err.value.code == "reveal_too_early"
    epochs_by_block(state, 2, 12)
    call(state, validator, block=12, reveal_weights=reveal)
    assert state.get("weights", (netuid, 1)) == ((1, 65535),)
