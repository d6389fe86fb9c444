"""Epoch scheduling and epoch numbering, in blocks (docs/epoch.md §3).

Two rules, chosen once per chain in the genesis (``epoch_schedule``):

* ``dynamic`` (subtensor since May 2026, ``should_run_epoch``): subnet ``s`` is *due* at block
  ``b`` when tempo > 0 and any of: its owner triggered an epoch that falls due by ``b``
  (``trigger_epoch``), more than ``MAX_TEMPO`` blocks passed since its last epoch, or
  ``b - last_epoch_block >= tempo``. At most ``MAX_EPOCHS_PER_BLOCK`` due subnets run per block;
  the others stay due and run on a later block (the longest-waiting first, then by netuid, so
  none starves). The epoch *index* is the count of epochs the subnet has run.
* ``legacy`` (the rule most documentation describes): an epoch at ``b`` when
  ``(b + netuid + 1) % (tempo + 1) == 0``; the index of a block is
  ``(b + netuid + 1) // (tempo + 1)``, ticking over exactly at an epoch block.

Both are pure functions of the chain state, so producer and replay agree. In either rule the
index seen by extrinsics of an epoch block already counts that block's epoch.
"""

from __future__ import annotations

from subnetkit.chain.records import Subnet
from subnetkit.chain.state import State

NEVER = 2**63 - 1
LEGACY = "legacy"
DYNAMIC = "dynamic"
SCHEDULES = (LEGACY, DYNAMIC)
#: subtensor's MAX_TEMPO: a subnet runs an epoch at least this often (in blocks) plus one
MAX_TEMPO = 50_400
#: subtensor's production MaxEpochsPerBlock
MAX_EPOCHS_PER_BLOCK = 2


def schedule_of(state: State) -> str:
    """The chain's rule; chains created before the option existed use the legacy rule."""
    mode: str = state.get("sys", ("epoch_schedule",)) or LEGACY
    return mode


def dynamic_state(state: State, netuid: int) -> tuple[int, int]:
    """``(epochs run, owner-triggered block or 0)`` of a subnet under the dynamic rule."""
    row = state.get("epochsched", (netuid,))
    return (int(row[0]), int(row[1])) if row else (0, 0)


def set_dynamic_state(state: State, netuid: int, epochs: int, pending_at: int) -> None:
    state.put("epochsched", (netuid,), (epochs, pending_at))


def _base(sn: Subnet) -> int:
    """The block the tempo counts from: the last epoch, or the subnet's creation."""
    return sn.last_epoch_block if sn.last_epoch_block > 0 else sn.registered_at


def is_due(state: State, sn: Subnet, block: int) -> bool:
    tempo = sn.hp("tempo")
    if tempo <= 0:
        return False
    if schedule_of(state) == LEGACY:
        return (block + sn.netuid + 1) % (tempo + 1) == 0
    _, pending_at = dynamic_state(state, sn.netuid)
    since = block - _base(sn)
    return (0 < pending_at <= block) or since > MAX_TEMPO or since >= tempo


def epochs_this_block(state: State, subnets: list[Subnet], block: int) -> list[int]:
    """Netuids whose epoch runs at ``block``, in the order they run."""
    due = [sn for sn in subnets if is_due(state, sn, block)]
    if schedule_of(state) == LEGACY:
        return [sn.netuid for sn in due]
    due.sort(key=lambda sn: (_base(sn), sn.netuid))
    return [sn.netuid for sn in due[:MAX_EPOCHS_PER_BLOCK]]


def blocks_until_next_epoch(state: State, sn: Subnet, block: int) -> int:
    """Blocks from ``block`` to the next block (strictly after it) that runs an epoch.

    Under the dynamic rule this is when the subnet falls due; a block with more than
    ``MAX_EPOCHS_PER_BLOCK`` subnets due defers some, which no forecast can see.
    """
    tempo = sn.hp("tempo")
    if tempo <= 0:
        return NEVER
    if schedule_of(state) == LEGACY:
        rem = (block + sn.netuid + 1) % (tempo + 1)
        return (tempo + 1) - rem
    _, pending_at = dynamic_state(state, sn.netuid)
    at = _base(sn) + min(tempo, MAX_TEMPO + 1)
    if pending_at > 0:
        at = min(at, pending_at)
    return max(at - block, 1)


def epoch_index(state: State, sn: Subnet, block: int) -> int:
    """The epoch a block belongs to (commit-reveal windows count in these)."""
    tempo = sn.hp("tempo")
    if tempo <= 0:
        return 0
    if schedule_of(state) == LEGACY:
        return (block + sn.netuid + 1) // (tempo + 1)
    return dynamic_state(state, sn.netuid)[0]


def first_block_of_epoch(state: State, sn: Subnet, block: int, index: int) -> int:
    """The block epoch ``index`` starts at, as seen from ``block``.

    Exact under the legacy rule; under the dynamic rule a forecast that assumes every future
    epoch runs ``tempo`` blocks after the previous one (no owner trigger, no deferral).
    """
    tempo = sn.hp("tempo")
    if schedule_of(state) == LEGACY:
        return legacy_first_block_of_epoch(sn.netuid, tempo, index)
    current = epoch_index(state, sn, block)
    if index <= current:
        return _base(sn)
    next_at = block + blocks_until_next_epoch(state, sn, block)
    return next_at + (index - current - 1) * min(tempo, MAX_TEMPO + 1)


def legacy_epoch_index(netuid: int, tempo: int, block: int) -> int:
    """The legacy rule's index, for a client that only knows netuid, tempo and a block."""
    if tempo <= 0:
        return 0
    return (block + netuid + 1) // (tempo + 1)


def legacy_first_block_of_epoch(netuid: int, tempo: int, index: int) -> int:
    return max(index * (tempo + 1) - netuid - 1, 0)
