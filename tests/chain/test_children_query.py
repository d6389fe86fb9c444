"""``GetChildren`` on a real chain service: what ``SetChildren`` / ``SetChildkeyTake`` left in
force reads back through the client, from both sides (parent and child), at the head and at a
past block; revoking empties it; a bad address or subnet is a typed refusal, an unknown hotkey
an empty answer."""

from __future__ import annotations

import pytest

from subnetkit.chain.genesis import dev_genesis
from subnetkit.core.errors import ChainError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.testing import ChainHarness, running_chain

U64_MAX = 2**64 - 1


def _shares(rows: object) -> list[tuple[str, int]]:
    return [(row.hotkey, int(row.proportion)) for row in rows]  # type: ignore[attr-defined]


async def test_children_parents_and_take_read_back_then_revoke() -> None:
    cfg = dev_genesis(timestamp_ms=0, childkeys=True)
    eve = dev_signer("eve")
    async with running_chain(genesis=cfg) as chain:
        c = chain.client
        netuid, _ = await chain.subnet()
        parent, child1, child2 = Signer.generate(), Signer.generate(), Signer.generate()
        await c.burned_register(chain.charlie, netuid, parent.ss58)
        await c.burned_register(eve, netuid, child1.ss58)
        await c.burned_register(eve, netuid, child2.ss58)
        shares = [(child1.ss58, U64_MAX // 4), (child2.ss58, U64_MAX // 10)]
        await c.set_children(chain.charlie, netuid, parent.ss58, shares)
        await c.set_childkey_take(eve, netuid, child1.ss58, 3277)

        mine = await c.children(netuid, parent.ss58)
        assert mine.childkeys and _shares(mine.children) == shares
        assert not mine.parents and mine.childkey_take == 0
        assert mine.block == chain.service.head.number
        theirs = await c.children(netuid, child1.ss58)
        assert _shares(theirs.parents) == [(parent.ss58, U64_MAX // 4)]
        assert not theirs.children and theirs.childkey_take == 3277
        set_at = mine.block

        revoke = await c.set_children(chain.charlie, netuid, parent.ss58, [])
        assert revoke.block_number > set_at
        gone = await c.children(netuid, parent.ss58)
        assert not gone.children and gone.block == revoke.block_number
        assert not (await c.children(netuid, child1.ss58)).parents
        # the block before the revocation still shows the children (past-block state)
        before = await c.children(netuid, parent.ss58, at_block=set_at)
        assert _shares(before.children) == shares and before.block == set_at

        stranger = await c.children(netuid, Signer.generate().ss58)  # registered nowhere
        assert (stranger.childkeys, list(stranger.children), list(stranger.parents)) == (
            True,
            [],
            [],
        )
        for call, code in (
            (c.children(netuid, "not-an-address"), "bad_address"),
            (c.children(999, parent.ss58), "subnet_not_found"),
        ):
            with pytest.raises(ChainError) as err:
                await call
            assert err.value.code == code


async def test_a_chain_without_childkeys_answers_empty_and_says_so(chain: ChainHarness) -> None:
    netuid, owner_hotkey = await chain.subnet()
    resp = await chain.client.children(netuid, owner_hotkey.ss58)
    assert not resp.childkeys and not resp.children and not resp.parents
