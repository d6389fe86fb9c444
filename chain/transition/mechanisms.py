"""Which payout mechanisms a chain runs, and the stake weight they give each hotkey.

The genesis turns on any of ``root``, ``delegation`` and ``childkeys`` (docs/epoch.md §10);
they are stored in ``sys/mechanisms`` and never change afterwards. A chain with none of them
pays exactly as it always did (everything to the hotkey's owner, stake weight = alpha stake).

Root stake is TAO staked on netuid 0 (``stake``/``hstake`` rows with netuid 0, one TAO one unit,
no pool); ``sys/root_stake`` keeps its total. Children are stored both ways so an epoch reads a
hotkey's parents without a scan: ``children/(netuid, parent)`` and ``parents/(netuid, child)``,
each a tuple of ``(hotkey, proportion / u64::MAX)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from subnetkit.chain.distribution import lent, weighted
from subnetkit.chain.state import State

ROOT_NETUID = 0


def enabled(state: State) -> frozenset[str]:
    return frozenset(state.get("sys", ("mechanisms",)) or ())


def tao_weight(state: State) -> int:
    """``TaoWeight`` (/u64::MAX) when root is on, else 0: root stake then weighs nothing."""
    if "root" not in enabled(state):
        return 0
    return int(state.get("sys", ("tao_weight",), 0))


def root_total(state: State) -> int:
    return int(state.get("sys", ("root_stake",), 0))


def delegate_take(state: State, hotkey: str) -> int:
    return int(state.get("dtake", (hotkey,), state.get("sys", ("delegate_take",), 0)))


def childkey_take(state: State, netuid: int, hotkey: str) -> int:
    return int(state.get("cktake", (netuid, hotkey), 0))


def children(state: State, netuid: int, hotkey: str) -> tuple[tuple[str, int], ...]:
    if "childkeys" not in enabled(state):
        return ()
    rows: tuple[tuple[str, int], ...] = state.get("children", (netuid, hotkey), ())
    return rows


def parents(state: State, netuid: int, hotkey: str) -> tuple[tuple[str, int], ...]:
    if "childkeys" not in enabled(state):
        return ()
    rows: tuple[tuple[str, int], ...] = state.get("parents", (netuid, hotkey), ())
    return rows


@dataclass(frozen=True, slots=True)
class HotkeyStake:
    """One hotkey's stake on a subnet, as the epoch and the payout see it."""

    #: alpha and root TAO the hotkey keeps (its own stake less what it lends to children)
    own_alpha: int
    own_root: int
    #: (parent, alpha lent, root lent) for every parent lending to it
    inherited: tuple[tuple[str, int, int], ...]

    @property
    def alpha(self) -> int:
        return self.own_alpha + sum(a for _, a, _ in self.inherited)

    @property
    def root(self) -> int:
        return self.own_root + sum(r for _, _, r in self.inherited)


def hotkey_stake(state: State, netuid: int, hotkey: str) -> HotkeyStake:
    root_on = "root" in enabled(state)

    def raw(of: str) -> tuple[int, int]:
        alpha = int(state.get("hstake", (netuid, of), 0))
        root = int(state.get("hstake", (ROOT_NETUID, of), 0)) if root_on else 0
        return alpha, root

    alpha, root = raw(hotkey)
    own_alpha, own_root = alpha, root
    for _, proportion in children(state, netuid, hotkey):
        own_alpha -= lent(alpha, proportion)
        own_root -= lent(root, proportion)
    inherited = []
    for parent, proportion in parents(state, netuid, hotkey):
        p_alpha, p_root = raw(parent)
        inherited.append((parent, lent(p_alpha, proportion), lent(p_root, proportion)))
    return HotkeyStake(own_alpha, own_root, tuple(inherited))


def stake_weight(state: State, netuid: int, hotkey: str) -> int:
    """The epoch's stake of a hotkey: ``alpha + tao_weight x root``, both after child keys."""
    if not enabled(state):
        return int(state.get("hstake", (netuid, hotkey), 0))
    hs = hotkey_stake(state, netuid, hotkey)
    return weighted(hs.alpha, hs.root, tao_weight(state))


def root_proportion(state: State, alpha_issuance: int) -> tuple[int, int]:
    """``tao_weight x root TAO / (tao_weight x root TAO + alpha issuance)`` as (num, den).

    Numerator and denominator are scaled by u64::MAX so the fraction is exact; ``(0, 1)`` when
    root is off or nothing is staked on root.
    """
    num = tao_weight(state) * root_total(state)
    den = num + alpha_issuance * (2**64 - 1)
    return (num, den) if num > 0 and den > 0 else (0, 1)
