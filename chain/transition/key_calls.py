"""Calls of the payout mechanisms: delegate take, child keys and childkey take.

Each is signed by the coldkey that owns the hotkey it changes (docs/epoch.md §10). Takes are
bounded as on subtensor (at most 18%, 11 796 / 65 535); a parent has at most
``MAX_CHILDREN`` children and a child at most ``MAX_PARENTS`` parents, so no key can make an
epoch read unbounded rows.
"""

from __future__ import annotations

from subnetkit.chain.distribution import U64_MAX
from subnetkit.chain.errors import fail
from subnetkit.chain.transition import mechanisms
from subnetkit.chain.transition.context import Ctx, require_address
from subnetkit.protos.chain.v1 import chain_pb2 as pb

#: subtensor's MaxDelegateTake and MaxChildkeyTake
MAX_TAKE = 11_796
#: subtensor allows five children per parent
MAX_CHILDREN = 5
MAX_PARENTS = 64


def _require(ctx: Ctx, name: str, flag: str) -> None:
    if name not in mechanisms.enabled(ctx.state):
        raise fail(
            f"{name}_disabled",
            f"this chain runs without {name}: start it with the genesis flag {name} "
            f"(`subnetkit chain start --dev --{flag}`)",
        )


def _owned(ctx: Ctx, hotkey: str) -> str:
    require_address(hotkey, "hotkey")
    owner = ctx.state.get("howner", (hotkey,))
    if owner != ctx.signer:
        raise fail(
            "not_hotkey_owner",
            f"hotkey {hotkey} is not owned by {ctx.signer}; sign with the coldkey that "
            "registered it",
        )
    return hotkey


def _check_take(take: int, what: str) -> None:
    if not 0 <= take <= MAX_TAKE:
        raise fail(
            "take_out_of_range",
            f"{what} {take} is outside 0..{MAX_TAKE} (/65535, at most 18%)",
        )


def set_delegate_take(ctx: Ctx, call: pb.SetDelegateTake) -> None:
    _require(ctx, "delegation", "delegation")
    hotkey = _owned(ctx, call.hotkey)
    _check_take(call.take, "delegate take")
    ctx.state.put("dtake", (hotkey,), int(call.take))
    ctx.emit("DelegateTakeSet", hotkey=hotkey, take=call.take)


def set_childkey_take(ctx: Ctx, call: pb.SetChildkeyTake) -> None:
    _require(ctx, "childkeys", "childkeys")
    ctx.subnet(call.netuid)
    hotkey = _owned(ctx, call.hotkey)
    _check_take(call.take, "childkey take")
    if call.take:
        ctx.state.put("cktake", (call.netuid, hotkey), int(call.take))
    else:
        ctx.state.delete("cktake", (call.netuid, hotkey))
    ctx.emit("ChildkeyTakeSet", netuid=call.netuid, hotkey=hotkey, take=call.take)


def set_children(ctx: Ctx, call: pb.SetChildren) -> None:
    _require(ctx, "childkeys", "childkeys")
    netuid = call.netuid
    ctx.subnet(netuid)
    parent = _owned(ctx, call.hotkey)
    new = [(require_address(c.hotkey, "child hotkey"), int(c.proportion)) for c in call.children]
    if len(new) > MAX_CHILDREN:
        raise fail("too_many_children", f"{len(new)} children; at most {MAX_CHILDREN}")
    if len({c for c, _ in new}) != len(new):
        raise fail("duplicate_child", "a child hotkey appears twice; give each child once")
    if any(c == parent for c, _ in new):
        raise fail("bad_argument", "a hotkey cannot be its own child")
    if any(p == 0 for _, p in new):
        raise fail("bad_argument", "a child's proportion must be above 0 (/u64::MAX)")
    if sum(p for _, p in new) > U64_MAX:
        raise fail(
            "proportions_too_large",
            f"children's proportions sum above u64::MAX ({U64_MAX}): they may lend at most all "
            "of the parent's stake",
        )
    old = ctx.state.get("children", (netuid, parent), ())
    for child, _ in old:
        rest = tuple(
            row for row in ctx.state.get("parents", (netuid, child), ()) if row[0] != parent
        )
        if rest:
            ctx.state.put("parents", (netuid, child), rest)
        else:
            ctx.state.delete("parents", (netuid, child))
    for child, proportion in new:
        rows = ctx.state.get("parents", (netuid, child), ())
        if len(rows) >= MAX_PARENTS:
            raise fail("too_many_parents", f"child {child} already has {MAX_PARENTS} parents")
        ctx.state.put("parents", (netuid, child), tuple(sorted((*rows, (parent, proportion)))))
    if new:
        ctx.state.put("children", (netuid, parent), tuple(new))
    else:
        ctx.state.delete("children", (netuid, parent))
    ctx.emit("ChildrenSet", netuid=netuid, hotkey=parent, children=[c for c, _ in new])
