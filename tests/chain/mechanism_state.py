"""Chain state built through the real call handlers, for payout tests computed by hand.

No signatures or gRPC: each call goes straight to its handler with a :class:`Ctx` naming the
signer, which is exactly what the block executor does after checking a signature.
"""

from __future__ import annotations

from typing import Any

from subnetkit.chain.genesis import dev_genesis, genesis_state
from subnetkit.chain.state import State
from subnetkit.chain.transition.block import HANDLERS
from subnetkit.chain.transition.context import Ctx, EventSink
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb

ALICE = dev_signer("alice").ss58
BOB = dev_signer("bob").ss58
CHARLIE = dev_signer("charlie").ss58
DAVE = dev_signer("dave").ss58
EVE = dev_signer("eve").ss58


def new_state(**options: Any) -> State:
    return genesis_state(dev_genesis(timestamp_ms=0, **options))


def call(state: State, signer: str, block: int = 1, **kind: Any) -> EventSink:
    """Apply one call (``name=pb.Message(...)``) as ``signer``; a failure raises its error."""
    ((name, message),) = kind.items()
    sink = EventSink()
    HANDLERS[name](Ctx(state, block, sink, signer), message)
    return sink


def hotkeys(count: int) -> list[str]:
    return [Signer.generate().ss58 for _ in range(count)]


def subnet(state: State, owner_hotkey: str, members: list[tuple[str, str]]) -> int:
    """A subnet owned by Alice (uid 0 = ``owner_hotkey``), then ``(hotkey, coldkey)`` as uids."""
    sink = call(state, ALICE, create_subnet=pb.CreateSubnet(hotkey=owner_hotkey))
    netuid = int(next(data["netuid"] for name, data, _ in sink.events if name == "SubnetCreated"))
    for hotkey, coldkey in members:
        call(state, coldkey, burned_register=pb.BurnedRegister(netuid=netuid, hotkey=hotkey))
    return netuid
