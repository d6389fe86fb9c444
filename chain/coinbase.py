"""The coinbase (docs/epoch.md §7): how new TAO and alpha enter each block, and how an
epoch's share vectors turn into rao staked to each uid.

Pure functions over integers (rao) the chain calls once per block and once per epoch. Amounts
are always rounded down and every split is computed so its parts sum to at most the whole:
the coinbase may burn a few rao to rounding, it never creates any.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from subnetkit.chain.epoch.types import EpochOutputs

TOTAL_SUPPLY_RAO = 21_000_000_000_000_000
DEFAULT_BLOCK_EMISSION_RAO = 1_000_000_000
DEFAULT_OWNER_CUT_U16 = 11796
U16_MAX = 65535
_SHARE_BITS = 40  # fixed-point resolution used to apportion integer rao exactly


def block_emission(total_issuance_rao: int, *, total_supply_rao: int = TOTAL_SUPPLY_RAO) -> int:
    """Rao emitted per block given what has been issued so far (halvings, docs/epoch.md §7).

    ``k = floor(log2(1 / (1 - I / supply)))`` and the emission is ``floor(1e9 / 2^k)``: 1 TAO
    per block until half the supply is issued, then halving each time the remaining supply
    halves. Computed in exact integers (``2^k * (supply - I) <= supply``). The same formula on a
    subnet's alpha issuance gives its per-block ``alpha_out``.
    """
    if total_issuance_rao < 0:
        raise ValueError(f"total issuance {total_issuance_rao} is negative")
    remaining = total_supply_rao - total_issuance_rao
    if remaining <= 0:
        return 0
    k = 0
    while (remaining << (k + 1)) <= total_supply_rao:
        k += 1
    return DEFAULT_BLOCK_EMISSION_RAO >> k


def subnet_shares(
    ema_prices: Mapping[int, float], miner_burned: Mapping[int, float] | None = None
) -> dict[int, float]:
    """Each subnet's fraction of the block's TAO emission (docs/epoch.md §7).

    ``share_i ∝ ema_price_i × (1 − miner_burned_i)`` normalised to sum 1; if every such weight
    is 0 the shares fall back to pure price shares; if every price is 0, all shares are 0.
    Callers pass only subnets eligible for emission (started, not root, emission enabled).
    """
    burned = miner_burned or {}
    for netuid, price in ema_prices.items():
        if not price >= 0:
            raise ValueError(f"subnet {netuid}: EMA price {price!r} must be >= 0")
    weights = {
        netuid: price * (1.0 - min(max(float(burned.get(netuid, 0.0)), 0.0), 1.0))
        for netuid, price in ema_prices.items()
    }
    total = sum(weights.values())
    if total <= 0:
        weights = {netuid: float(price) for netuid, price in ema_prices.items()}
        total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(ema_prices, 0.0)
    return {netuid: w / total for netuid, w in weights.items()}


class Injection(NamedTuple):
    """What one subnet's pool receives in a block (docs/epoch.md §7); unpacks as a 3-tuple."""

    tao_in: int
    """TAO added to the pool's TAO reserve."""
    alpha_in: int
    """Alpha added to the pool's alpha reserve."""
    excess_tao: int
    """TAO left over after the alpha cap; the chain uses it to buy alpha from the pool."""


def inject(tao_emission: int, price: float, alpha_in_cap: int) -> Injection:
    """Split a subnet's TAO emission into pool injections (docs/epoch.md §7).

    ``alpha_in = tao_emission / price`` capped at ``alpha_in_cap`` (the chain passes
    ``root_proportion × alpha_out``). When capped, only ``alpha_in × price`` TAO goes in beside
    it and the rest is ``excess_tao``. A pool without a price (``price <= 0``) takes the TAO
    and no alpha. ``tao_in + excess_tao == tao_emission`` always.
    """
    if tao_emission < 0 or alpha_in_cap < 0:
        raise ValueError("tao_emission and alpha_in_cap must be >= 0")
    if price <= 0:
        return Injection(tao_in=tao_emission, alpha_in=0, excess_tao=0)
    alpha_in = int(tao_emission / price)
    if alpha_in <= alpha_in_cap:
        return Injection(tao_in=tao_emission, alpha_in=alpha_in, excess_tao=0)
    tao_in = min(int(alpha_in_cap * price), tao_emission)
    return Injection(tao_in=tao_in, alpha_in=alpha_in_cap, excess_tao=tao_emission - tao_in)


@dataclass(frozen=True)
class AlphaSplit:
    """One block's ``alpha_out`` divided between owner, miners, validators and root.

    See docs/epoch.md §7.

    The four parts sum exactly to ``alpha_out``.
    """

    owner_cut: int
    server: int
    validator: int
    root: int

    @property
    def total(self) -> int:
        return self.owner_cut + self.server + self.validator + self.root


def split_alpha_out(
    alpha_out: int, owner_cut_u16: int = DEFAULT_OWNER_CUT_U16, root_proportion: float = 0.0
) -> AlphaSplit:
    """Divide ``alpha_out`` (docs/epoch.md §7): owner cut first, then half of the rest to
    miners, the other half to validators, of which ``root_proportion`` goes to root stakers.

    ``owner_cut = floor(alpha_out × owner_cut_u16 / 65535)``; miners get
    ``floor(rest / 2)``; root gets ``floor(root_proportion × (rest − miners))``; validators the
    remainder, so no rao is lost or created. Pass ``owner_cut_u16=0`` when the owner cut is off.
    """
    if alpha_out < 0:
        raise ValueError(f"alpha_out {alpha_out} must be >= 0")
    if not 0 <= owner_cut_u16 <= U16_MAX:
        raise ValueError(f"owner_cut_u16 {owner_cut_u16} must be in 0..65535")
    if not 0.0 <= root_proportion <= 1.0:
        raise ValueError(f"root_proportion {root_proportion} must be in [0, 1]")
    owner_cut = alpha_out * owner_cut_u16 // U16_MAX
    rest = alpha_out - owner_cut
    server = rest // 2
    validator_half = rest - server
    root = min(int(root_proportion * validator_half), validator_half)
    return AlphaSplit(
        owner_cut=owner_cut, server=server, validator=validator_half - root, root=root
    )


def _apportion(amount: int, fractions: list[float]) -> list[int]:
    """Split ``amount`` rao by non-negative ``fractions`` (any scale), rounding each part down.

    Works on fixed-point integers so the parts provably sum to at most ``amount``.
    """
    scaled = [int(max(f, 0.0) * (1 << _SHARE_BITS)) for f in fractions]
    total = sum(scaled)
    if amount <= 0 or total == 0:
        return [0] * len(fractions)
    return [amount * s // total for s in scaled]


def epoch_payouts(
    outputs: EpochOutputs,
    pending_server: int,
    pending_validator: int,
    pending_root: int = 0,
    *,
    burn_uids: Collection[int] = (),
) -> list[int]:
    """Per-uid rao to add as stake after an epoch (docs/epoch.md §7), never more than was pending.

    The epoch's server and validator emissions are used only as proportions: miners share
    ``pending_server`` by ``normalized_server_emission``, validators share
    ``pending_validator + pending_root`` by ``normalized_validator_emission`` (this simplified
    chain has no child keys and no separate root stake pool). If no miner earned incentive,
    validators share ``pending_server`` too. Miner payouts of ``burn_uids`` (the subnet owner's
    hotkeys) are burned: they are left out, not given to others.
    """
    if min(pending_server, pending_validator, pending_root) < 0:
        raise ValueError("pending amounts must be >= 0")
    server_fracs = [float(x) for x in outputs.normalized_server_emission.tolist()]
    validator_fracs = [float(x) for x in outputs.normalized_validator_emission.tolist()]
    validator_pot = pending_validator + pending_root
    if sum(server_fracs) <= 0:
        validator_pot += pending_server
        server_pay = [0] * len(server_fracs)
    else:
        server_pay = _apportion(pending_server, server_fracs)
        for uid in burn_uids:
            if 0 <= uid < len(server_pay):
                server_pay[uid] = 0
    validator_pay = _apportion(validator_pot, validator_fracs)
    return [s + v for s, v in zip(server_pay, validator_pay, strict=True)]


__all__ = [
    "DEFAULT_BLOCK_EMISSION_RAO",
    "DEFAULT_OWNER_CUT_U16",
    "TOTAL_SUPPLY_RAO",
    "AlphaSplit",
    "Injection",
    "block_emission",
    "epoch_payouts",
    "inject",
    "split_alpha_out",
    "subnet_shares",
]
