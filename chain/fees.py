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
"""

from __future__ import annotations

from subnetkit.chain.state import State
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


def weight(call: pb.Call) -> int:
    """The weight of an extrinsic carrying ``call`` (deterministic: replay recomputes it)."""
    kind = call.WhichOneof("kind") or ""
    total = EXTRINSIC_BASE_WEIGHT + CALL_WEIGHT.get(kind, 100_000)
    if kind in ("set_weights", "reveal_weights"):
        total += WEIGHT_PER_UID * len(getattr(call, kind).uids)
    return total


def fee(length: int, call_weight: int) -> int:
    """``base + length fee + weight fee`` in rao, for an extrinsic of ``length`` bytes."""
    return BASE_FEE + LENGTH_FEE_PER_BYTE * length + call_weight // WEIGHT_PER_RAO


def fee_due(state: State, signer: str, call: pb.Call, length: int) -> int:
    """What ``signer`` pays for this extrinsic against ``state``: 0 for a free call of a
    registered hotkey, else :func:`fee`."""
    kind = call.WhichOneof("kind") or ""
    if kind in FREE_FOR_REGISTERED:
        netuid = getattr(call, kind).netuid
        if state.get("uid", (netuid, signer)) is not None:
            return 0
    return fee(length, weight(call))
