"""Crash safety and determinism: restart resumes at the same state root, a kill -9 during a burst
loses no extrinsic that was reported included, and replaying stored blocks from genesis
reproduces every state root."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from subnetkit.chain.client import ChainClient
from subnetkit.chain.reexecute import reexecute
from subnetkit.chain.store import ChainStore
from subnetkit.core.errors import ChainError, ChainUnavailableError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.testing import TAO, running_chain
from tests.helpers.chain import ChainProcess


async def _busy_chain(data_dir: Path) -> tuple[int, bytes, str, int]:
    """Run a chain with transfers, a subnet, registrations, weights and epochs; stop it."""
    async with running_chain(data_dir) as chain:
        c = chain.client
        netuid, owner = await chain.subnet(weights_rate_limit=0)
        await chain.register(netuid, 3)
        await c.add_stake(chain.charlie, netuid, owner.ss58, 20 * TAO)
        dest = Signer.generate().ss58
        await c.transfer(chain.alice, dest, 7 * TAO)
        await c.set_weights(owner, netuid, [1, 2, 3], [1, 2, 3])
        await chain.produce(25)  # a few epochs with emission and payouts
        mg = await c.metagraph(netuid)
        assert float(mg.E.sum()) > 0
        head = chain.service.head
        return int(head.number), bytes(head.state_root), dest, netuid


async def test_restart_resumes_with_the_same_state_root_and_replay_matches(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    number, root, dest, netuid = await _busy_chain(data)
    async with running_chain(data) as chain:
        assert chain.service.head.number == number
        assert chain.service.head.state_root == root
        assert await chain.client.balance(dest) == 7 * TAO
        assert (await chain.client.subnet_info(netuid)).n == 4
        await chain.produce(2)  # and it carries on from there
        assert chain.service.head.number == number + 2
    report = await reexecute(data)
    assert report.head == number + 2 and report.blocks == number + 3
    assert report.extrinsics == 9  # subnet, 2 sudo, 3 registrations, stake, transfer, weights


async def test_tampering_is_detected_at_restart_and_by_replay(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    await _busy_chain(data)
    store = ChainStore(data)
    await store.open()
    alice = f"acct/{dev_signer('alice').ss58}"
    await store.db.execute("UPDATE state SET value = ? WHERE key = ?", (b"[1,0]", alice))
    await store.close()
    with pytest.raises(ChainError) as info:
        async with running_chain(data):
            pass
    assert info.value.code == "state_corrupt"

    # Replay checks the blocks themselves: drop one stored extrinsic and the roots diverge.
    store = ChainStore(data)
    await store.open()
    await store.db.execute(
        "DELETE FROM extrinsics WHERE block = (SELECT MAX(block) FROM extrinsics)"
    )
    await store.close()
    with pytest.raises(ChainError) as info:
        await reexecute(data)
    assert info.value.code == "reexecution_mismatch"


async def test_past_block_queries_and_pruning(tmp_path: Path) -> None:
    async with running_chain(tmp_path / "chain", keep_blocks=64) as chain:
        c = chain.client
        dest = Signer.generate().ss58
        await chain.produce(1)
        receipt = await c.transfer(chain.alice, dest, TAO)
        await chain.produce(200)
        with pytest.raises(ChainError) as info:
            await c.balance(dest, at_block=receipt.block_number - 1)
        assert info.value.code == "block_pruned"
        head = chain.service.head.number
        assert await c.balance(dest, at_block=head - 10) == TAO
        with pytest.raises(ChainError) as info:
            await c.balance(dest, at_block=head + 5)
        assert info.value.code == "block_not_found"


@pytest.mark.slow
async def test_kill_9_during_a_burst_loses_no_included_extrinsic(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    proc = await ChainProcess(data, "--dev", "--block-time", "40ms").start()
    included: dict[bytes, int] = {}
    senders = [dev_signer(name) for name in ("alice", "bob", "charlie", "dave")]
    dest = Signer.generate().ss58
    enough = asyncio.Event()

    async def pump(client: ChainClient, sender: Signer) -> None:
        while True:
            try:
                receipt = await client.transfer(sender, dest, 1_000, timeout=5)
            except ChainUnavailableError:
                return  # the chain is gone
            included[bytes(receipt.extrinsic_hash)] = int(receipt.block_number)
            if len(included) >= 80:
                enough.set()

    try:
        async with ChainClient(proc.address) as client:
            tasks = [asyncio.create_task(pump(client, s)) for s in senders]
            async with asyncio.timeout(60):
                await enough.wait()
            await proc.kill9()  # mid-burst: requests are in flight right now
            async with asyncio.timeout(30):
                await asyncio.gather(*tasks)
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill9()
    assert len(included) >= 80

    again = await ChainProcess(data, "--dev", "--manual").start()
    try:
        async with ChainClient(again.address) as client:
            head = await client.head()
            assert head.number >= max(included.values())
            for ext_hash, block in included.items():
                receipt = await client.receipt(ext_hash)
                assert receipt is not None, f"included extrinsic {ext_hash.hex()} lost"
                assert receipt.block_number == block and receipt.success
            # Every reported transfer is in the balance (1000 rao each; possibly more that
            # committed but whose receipt never reached us).
            assert await client.balance(dest) >= 1_000 * len(included)
    except BaseException as exc:
        exc.add_note(f"restarted chain's log:\n{again.log_tail()}")
        raise
    finally:
        stopped = await again.stop()
    assert stopped == 0, f"restarted chain exited {stopped}:\n{again.log_tail()}"
    report = await reexecute(data)
    assert report.extrinsics >= len(included)


async def test_client_reconnects_after_a_chain_restart(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    async with running_chain(data) as chain:
        port = chain.service.port
        client = ChainClient(chain.service.address, timeout=5)
        await client.transfer(chain.alice, chain.bob.ss58, TAO)
    with pytest.raises(ChainUnavailableError):
        await client.head(timeout=0.5)
    async with running_chain(data, port=port) as chain:
        # The same client object: gRPC reconnects underneath, nonces carry on.
        receipt = await client.transfer(dev_signer("alice"), chain.bob.ss58, TAO)
        assert receipt.success and receipt.block_number == 2
    await client.close()
