"""Epoch scheduling and epoch numbering, in blocks.

We use subtensor's long-standing rule (docs/epoch.md §3, the older rule): subnet ``netuid`` runs its
epoch at block ``b`` when ``(b + netuid + 1) % (tempo + 1) == 0``; tempo 0 means never. The
netuid offset keeps subnets from all running on the same block. The epoch *index* of a block,
used by commit-reveal windows, is ``(b + netuid + 1) // (tempo + 1)``: it ticks over exactly at
an epoch block.
"""

from __future__ import annotations

NEVER = 2**63 - 1


def is_epoch_block(netuid: int, tempo: int, block: int) -> bool:
    return tempo > 0 and (block + netuid + 1) % (tempo + 1) == 0


def blocks_until_next_epoch(netuid: int, tempo: int, block: int) -> int:
    """Blocks from ``block`` to the next block (strictly after it) that runs an epoch."""
    if tempo <= 0:
        return NEVER
    rem = (block + netuid + 1) % (tempo + 1)
    return (tempo + 1) - rem


def epoch_index(netuid: int, tempo: int, block: int) -> int:
    if tempo <= 0:
        return 0
    return (block + netuid + 1) // (tempo + 1)


def first_block_of_epoch(netuid: int, tempo: int, index: int) -> int:
    return max(index * (tempo + 1) - netuid - 1, 0)
