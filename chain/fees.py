"""Transaction fees and weights, after Substrate's transaction-payment model.

``fee = BASE_FEE + LENGTH_FEE_PER_BYTE * len(extrinsic) + weight_fee(weight)``, withdrawn from
the signer when the extrinsic is included (before its call runs, and kept even if the call
fails), and burned (removed from the issuance; this chain has no block author to pay). The
length fee is subtensor's ``IdentityFee`` (1 rao per byte); the weight fee is linear. Weight is
an estimate of the work an extrinsic costs a block, in nanoseconds on a reference machine,
including what every extrinsic costs (nonce, receipt, events, its row in the store). Blocks are
filled up to :data:`MAX_BLOCK_WEIGHT` and :data:`MAX_BLOCK_BYTES`, so a burst of cheap
extrinsics cannot make a block take seconds.

As on subtensor (whose ``set_weights``, ``commit_weights``, ``reveal_weights`` and
``serve_axon`` are ``Pays::No``), a hotkey registered on the call's subnet pays no fee for
those calls, so validators and miners need no free balance on their hotkeys; a signer that is
not registered there pays like any other. See docs/chain.md, "Fees and pool limits".

The constants below are the defaults of a :class:`FeeSchedule`; a chain's genesis may set its
own (the ``fees`` object of the genesis JSON). The three that decide a fee live in the state
(``sys/fees``, written only when they differ from the defaults, so the genesis state of a chain
that sets none is what it always was), so a replay charges what the chain charged; the size and
block limits are block-building policy, read by the node from its genesis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from subnetkit.chain.state import State
from subnetkit.core.errors import ConfigError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

#: fee every extrinsic pays, in rao
BASE_FEE = 100_000
#: rao per byte of the serialised extrinsic
LENGTH_FEE_PER_BYTE = 1
#: weight units (ns) per rao of weight fee: fee = weight // WEIGHT_PER_RAO
WEIGHT_PER_RAO = 2

#: the largest extrinsic the pool admits, in bytes (set_weights on 4096 uids is ~25 KiB)
MAX_EXTRINSIC_BYTES = 512 * 1024
#: one block's extrinsics: at most this much weight (ns of reference time) and these many bytes
MAX_BLOCK_WEIGHT = 250_000_000
MAX_BLOCK_BYTES = 4 * 1024 * 1024

#: weight of any extrinsic: nonce, fee, receipt, events, hashing and its stored row
EXTRINSIC_BASE_WEIGHT = 110_000
#: extra weight per call kind
CALL_WEIGHT: dict[str, int] = {
    "transfer": 15_000,
    "create_subnet": 200_000,
    "burned_register": 60_000,
    "serve_axon": 15_000,
    "add_stake": 40_000,
    "remove_stake": 40_000,
    "set_weights": 40_000,
    "commit_weights": 20_000,
    "reveal_weights": 40_000,
    "set_hyperparameter": 20_000,
    "trigger_epoch": 15_000,
    "set_delegate_take": 15_000,
    "set_children": 30_000,
    "set_childkey_take": 15_000,
}
#: extra weight per uid of a weights call (sorting, normalising, storing a row entry)
WEIGHT_PER_UID = 600
#: calls a hotkey registered on the call's subnet makes for free (subtensor: Pays::No)
FREE_FOR_REGISTERED = frozenset({"set_weights", "commit_weights", "reveal_weights", "serve_axon"})


#: the largest extrinsic a genesis may allow (the chain's gRPC message limit is 64 MiB)
MAX_EXTRINSIC_BYTES_LIMIT = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """What extrinsics pay and how large extrinsics and blocks may be (the genesis ``fees``)."""

    #: rao every extrinsic pays
    base_fee: int = BASE_FEE
    #: rao per byte of the serialised extrinsic
    length_fee_per_byte: int = LENGTH_FEE_PER_BYTE
    #: weight units (ns) per rao of weight fee (at least 1)
    weight_per_rao: int = WEIGHT_PER_RAO
    #: the largest extrinsic the pool admits, in bytes
    max_extrinsic_bytes: int = MAX_EXTRINSIC_BYTES
    #: the most weight one block's extrinsics may have
    max_block_weight: int = MAX_BLOCK_WEIGHT
    #: the most bytes one block's extrinsics may have
    max_block_bytes: int = MAX_BLOCK_BYTES

    def fee(self, length: int, call_weight: int) -> int:
        """``base + length fee + weight fee`` in rao, for an extrinsic of ``length`` bytes."""
        return (
            self.base_fee + self.length_fee_per_byte * length + call_weight // self.weight_per_rao
        )

    def state_value(self) -> tuple[int, int, int]:
        """The fee-deciding part, as stored in the state (``sys/fees``)."""
        return (self.base_fee, self.length_fee_per_byte, self.weight_per_rao)

    @classmethod
    def from_mapping(cls, raw: Any) -> FeeSchedule:
        """A schedule from the genesis ``fees`` object; a bad field is a one-line ConfigError."""
        if not isinstance(raw, Mapping):
            raise ConfigError("genesis.fees must be an object of integer fields")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise ConfigError(
                f"genesis.fees has unknown field(s): {', '.join(unknown)}; "
                f"known: {', '.join(names)}"
            )
        for name, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"genesis.fees.{name} must be a non-negative integer")
        schedule = cls(**raw)
        schedule.check()
        return schedule

    def check(self) -> None:
        """Refuse a schedule under which some extrinsic could never be included."""
        if self.weight_per_rao < 1:
            raise ConfigError(
                "genesis.fees.weight_per_rao must be at least 1 (ns of weight per rao)"
            )
        if not 1024 <= self.max_extrinsic_bytes <= MAX_EXTRINSIC_BYTES_LIMIT:
            raise ConfigError(
                f"genesis.fees.max_extrinsic_bytes must be within 1024..{MAX_EXTRINSIC_BYTES_LIMIT}"
            )
        if self.max_block_bytes < self.max_extrinsic_bytes:
            raise ConfigError(
                "genesis.fees.max_block_bytes must be at least max_extrinsic_bytes (else the "
                "largest extrinsic the pool admits never fits in a block)"
            )
        heaviest = heaviest_weight(self.max_extrinsic_bytes)
        if self.max_block_weight < heaviest:
            raise ConfigError(
                f"genesis.fees.max_block_weight must be at least {heaviest}: a "
                f"{self.max_extrinsic_bytes}-byte weights call can weigh that much and would "
                "never fit in a block (raise it, or lower max_extrinsic_bytes)"
            )


#: the schedule of a chain whose genesis sets none
DEFAULT_SCHEDULE = FeeSchedule()
_BY_STATE_VALUE: dict[tuple[int, ...], FeeSchedule] = {}


def schedule_of(state: State) -> FeeSchedule:
    """The fee schedule ``state`` charges by (the defaults unless its genesis set one)."""
    stored = state.get("sys", ("fees",))
    if stored is None:
        return DEFAULT_SCHEDULE
    known = _BY_STATE_VALUE.get(stored)
    if known is None:
        base, per_byte, per_rao = stored
        known = FeeSchedule(base_fee=base, length_fee_per_byte=per_byte, weight_per_rao=per_rao)
        if len(_BY_STATE_VALUE) < 64:  # a handful of chains per process at most
            _BY_STATE_VALUE[tuple(stored)] = known
    return known


def heaviest_weight(extrinsic_bytes: int) -> int:
    """An upper bound on the weight of an extrinsic of ``extrinsic_bytes`` (a weights call
    spends at least two bytes per uid: one for the uid, one for its weight)."""
    return (
        EXTRINSIC_BASE_WEIGHT + max(CALL_WEIGHT.values()) + WEIGHT_PER_UID * (extrinsic_bytes // 2)
    )


def weight(call: pb.Call) -> int:
    """The weight of an extrinsic carrying ``call`` (deterministic: replay recomputes it)."""
    kind = call.WhichOneof("kind") or ""
    total = EXTRINSIC_BASE_WEIGHT + CALL_WEIGHT.get(kind, 100_000)
    if kind in ("set_weights", "reveal_weights"):
        total += WEIGHT_PER_UID * len(getattr(call, kind).uids)
    return total


def fee(length: int, call_weight: int, schedule: FeeSchedule = DEFAULT_SCHEDULE) -> int:
    """``base + length fee + weight fee`` in rao, for an extrinsic of ``length`` bytes."""
    return schedule.fee(length, call_weight)


def fee_due(state: State, signer: str, call: pb.Call, length: int) -> int:
    """What ``signer`` pays for this extrinsic against ``state``: 0 for a free call of a
    registered hotkey, else the fee by ``state``'s schedule."""
    kind = call.WhichOneof("kind") or ""
    if kind in FREE_FOR_REGISTERED:
        netuid = getattr(call, kind).netuid
        if state.get("uid", (netuid, signer)) is not None:
            return 0
    return schedule_of(state).fee(length, weight(call))
