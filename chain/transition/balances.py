"""Transfers of free TAO between accounts."""

from __future__ import annotations

from subnetkit.chain.errors import fail
from subnetkit.chain.transition.context import Ctx, require_address
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def transfer(ctx: Ctx, call: pb.Transfer) -> None:
    dest = require_address(call.dest, "destination")
    if call.amount == 0:
        raise fail("bad_argument", "transfer amount is 0: give an amount in rao (1 TAO = 1e9 rao)")
    ctx.debit(ctx.signer, call.amount, "this transfer")
    ctx.credit(dest, call.amount)
    ctx.emit("Transfer", source=ctx.signer, dest=dest, amount=call.amount)
