"""How an epoch's validator payout reaches keys: child keys, root, delegation (docs/epoch.md §10).

Pure integer functions (rao / alpha units), applied in this order to each validator uid's
share of the epoch's validator emission:

1. :func:`parent_child_split`: a hotkey that holds stake lent by parents passes each parent the
   part its lent stake earned, less the childkey take the child keeps.
2. :func:`root_alpha_parts`: each receiving hotkey's amount is divided by the composition of its
   stake weight into an alpha part and a root part (``tao_weight x root stake``); the coinbase
   then pays the alpha parts out of ``pending_validator`` and the root parts out of
   ``pending_root``, in proportion (:func:`scale_to`).
3. :func:`delegate_split`: the hotkey owner's take, then every staker in proportion to its stake.

Every division rounds down and what rounding leaves goes to a named party (the child, the
hotkey owner), so each split sums exactly to what it divides: no rao is created or lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

U16_MAX = 65_535
U64_MAX = 2**64 - 1


def lent(stake: int, proportion: int) -> int:
    """The part of ``stake`` a proportion (/u64::MAX) lends to one child, rounded down."""
    return stake * proportion // U64_MAX


def weighted(alpha: int, root: int, tao_weight: int) -> int:
    """Stake weight of ``alpha`` alpha and ``root`` root TAO: ``alpha + root x tao_weight``."""
    return alpha + root * tao_weight // U64_MAX


def parent_child_split(
    amount: int, own_weight: int, parents: Sequence[tuple[str, int]], child: str, take_u16: int
) -> dict[str, int]:
    """Divide a child hotkey's ``amount`` between itself and the parents that lent it stake.

    ``own_weight`` is the stake weight the child holds itself (after lending to its own
    children), ``parents`` the stake weight each parent lends it. A parent earns
    ``floor(amount x lent / total)``, of which the child keeps ``floor(that x take / 65535)``
    (childkey take); the child gets everything else, rounding included.
    """
    total = own_weight + sum(w for _, w in parents)
    out: dict[str, int] = {}
    if amount <= 0 or total <= 0:
        return {child: max(amount, 0)}
    given = 0
    for parent, weight in parents:
        earned = amount * weight // total
        keep = earned * take_u16 // U16_MAX
        if earned - keep:
            out[parent] = out.get(parent, 0) + earned - keep
            given += earned - keep
    out[child] = out.get(child, 0) + amount - given
    return out


def root_alpha_parts(amount: int, alpha: int, root: int, tao_weight: int) -> tuple[int, int]:
    """``(alpha part, root part)`` of ``amount`` by the stake weight's composition.

    ``root part = floor(amount x tao_weight x root / (u64::MAX x alpha + tao_weight x root))``,
    i.e. ``root_prop = tao_weight x root / (alpha + tao_weight x root)`` in exact integers.
    """
    root_w = root * tao_weight
    denom = alpha * U64_MAX + root_w
    if amount <= 0 or denom <= 0 or root_w == 0:
        return max(amount, 0), 0
    root_part = amount * root_w // denom
    return amount - root_part, root_part


def scale_to(pot: int, parts: Mapping[str, int]) -> dict[str, int]:
    """Pay ``pot`` in proportion to ``parts`` (each rounded down; the rest stays unpaid)."""
    total = sum(parts.values())
    if pot <= 0 or total <= 0:
        return {}
    return {key: pot * part // total for key, part in parts.items() if pot * part // total}


def delegate_split(
    amount: int, owner: str, take_u16: int, stakers: Mapping[str, int]
) -> dict[str, int]:
    """Divide a hotkey's payout: the owner's take, then the stakers by stake.

    ``take = floor(amount x take / 65535)`` to ``owner`` (the hotkey's coldkey); each staker
    (coldkey -> stake, the owner included if it staked) gets ``floor(rest x stake / total)``;
    the owner also gets what rounding leaves, and everything when nobody has stake.
    """
    if amount <= 0:
        return {}
    take = amount * take_u16 // U16_MAX
    rest = amount - take
    total = sum(stakers.values())
    out: dict[str, int] = {}
    paid = 0
    if total > 0:
        for coldkey, stake in sorted(stakers.items()):
            share = rest * stake // total
            if share:
                out[coldkey] = share
                paid += share
    out[owner] = out.get(owner, 0) + amount - paid
    return out
