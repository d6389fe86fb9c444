"""Executing one block: hooks first (coinbase, epochs, payouts), then extrinsics in order.

The producer and the replay check both drive :class:`BlockExecutor`, so a block re-executed from
its stored extrinsics reproduces the same state root. An extrinsic whose nonce is not the
signer's next nonce is not includable (``try_apply`` returns ``None``). An included extrinsic
always bumps its signer's nonce; if its call fails, every other write it made is rolled back and
its receipt carries the typed error code and message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from subnetkit.chain import fees
from subnetkit.chain.errors import DispatchError
from subnetkit.chain.extrinsic import Checked
from subnetkit.chain.records import Account
from subnetkit.chain.state import State
from subnetkit.chain.transition import (
    balances,
    emission,
    key_calls,
    neurons,
    staking,
    subnets,
    weight_calls,
)
from subnetkit.chain.transition.context import Ctx, EventSink

log = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[[Ctx, Any], None]] = {
    "transfer": balances.transfer,
    "create_subnet": subnets.create_subnet,
    "burned_register": neurons.burned_register,
    "serve_axon": neurons.serve_axon,
    "add_stake": staking.add_stake,
    "remove_stake": staking.remove_stake,
    "set_weights": weight_calls.set_weights,
    "commit_weights": weight_calls.commit_weights,
    "reveal_weights": weight_calls.reveal_weights,
    "set_hyperparameter": subnets.set_hyperparameter,
    "trigger_epoch": subnets.trigger_epoch,
    "set_delegate_take": key_calls.set_delegate_take,
    "set_children": key_calls.set_children,
    "set_childkey_take": key_calls.set_childkey_take,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one included extrinsic."""

    hash: bytes
    index: int
    success: bool
    error_code: str = ""
    error_message: str = ""
    fee: int = 0


@dataclass(frozen=True, slots=True)
class NotIncludable:
    """Why an extrinsic cannot go in this block: ``future_nonce`` (a gap before it),
    ``stale_nonce`` (its nonce is used) or ``cannot_pay`` (the signer cannot pay its fee)."""

    code: str
    message: str


class BlockExecutor:
    def __init__(self, state: State, number: int) -> None:
        self.state = state
        self.number = number
        self.sink = EventSink()
        #: extrinsics included so far (failed ones too): the next one's index
        self.count = 0

    def initialize(self) -> None:
        """Per-block hooks, before any extrinsic (subtensor's on_initialize block step)."""
        emission.on_initialize(Ctx(self.state, self.number, self.sink))

    def try_apply(self, ext: Checked) -> Outcome | NotIncludable:
        """Include ``ext`` if its nonce is next for its signer and it can pay its fee.

        The fee is withdrawn (and burned) with the nonce bump, before the call runs, and is
        kept whether or not the call succeeds (see :mod:`chain.fees`).
        """
        acct = self.state.get("acct", (ext.signer,))
        nonce = acct.nonce if acct is not None else 0
        if ext.nonce != nonce:
            code = "stale_nonce" if ext.nonce < nonce else "future_nonce"
            return NotIncludable(code, f"nonce {ext.nonce} of {ext.signer}; next is {nonce}")
        due = fees.fee_due(self.state, ext.signer, ext.call, len(ext.raw))
        balance = acct.balance if acct is not None else 0
        if balance < due:
            return NotIncludable(
                "cannot_pay",
                f"{ext.signer} has {balance} rao, the fee is {due} rao; fund the account",
            )
        index = self.count
        ctx = Ctx(self.state, self.number, self.sink, ext.signer)
        ctx.set_account(ext.signer, Account(balance=balance - due, nonce=nonce + 1))
        if due:
            ctx.add_issuance(-due)
            self.sink.current = index
            ctx.emit("TransactionFeePaid", who=ext.signer, fee=due)
        kind = ext.call.WhichOneof("kind")
        handler = HANDLERS[kind]  # type: ignore[index]
        mark = self.sink.mark()
        self.sink.current = index
        self.state.begin()
        try:
            handler(ctx, getattr(ext.call, kind))  # type: ignore[arg-type]
        except DispatchError as exc:
            self.state.rollback()
            self.sink.truncate(mark)
            outcome = Outcome(ext.hash, index, False, exc.code, exc.message, due)
        except Exception as exc:  # a bug in a handler must not take the chain down
            log.exception("extrinsic %s (%s) crashed", ext.hash.hex(), kind)
            self.state.rollback()
            self.sink.truncate(mark)
            outcome = Outcome(
                ext.hash, index, False, "internal", f"{type(exc).__name__}: {exc}", due
            )
        else:
            self.state.release()
            outcome = Outcome(ext.hash, index, True, fee=due)
        if not outcome.success:
            self.sink.emit("ExtrinsicFailed", code=outcome.error_code)
        self.sink.current = None
        self.count += 1
        return outcome
