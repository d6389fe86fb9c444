"""Public checks a coldkey command runs before decrypting the coldkey.

Decrypting an encrypted coldkey takes seconds (argon2i). A command that cannot succeed (too
little balance, no such subnet, a hotkey already registered) should say so before that, with
the same typed code the chain would have answered, and what to do about it. Each check reads
public state only: balances and registrations are on chain for anyone to see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from subnetkit.cli.output import fmt_tao
from subnetkit.core.errors import ChainError, NotRegisteredError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient


async def need_balance(client: ChainClient, coldkey: str, rao: int, what: str) -> None:
    """``coldkey`` holds at least ``rao`` free, else ``insufficient_balance`` (``cannot_pay``
    when it holds nothing, as the chain would answer); refused here, the doomed extrinsic
    costs no fee."""
    free = await client.balance(coldkey)
    if free == 0:  # the chain checks the fee first, and says so with this code
        raise ChainError(
            f"coldkey {coldkey} has no TAO: it cannot pay the fee of {what}; fund it first "
            "(check with `subnetkit wallet balance`)",
            code="cannot_pay",
        )
    if free < rao:
        raise ChainError(
            f"{what} needs {fmt_tao(rao)} TAO but coldkey {coldkey} has {fmt_tao(free)} TAO free: "
            "fund it first (check with `subnetkit wallet balance`)",
            code="insufficient_balance",
        )


async def need_past_rate_limit(
    client: ChainClient, last: int, limit: int, what: str, name: str
) -> None:
    """The chain's rate-limit rule: ``limit`` blocks (hyperparameter ``name``) after block
    ``last`` (0: never, so no limit), judged for the next block, the one a submission lands in."""
    next_block = int((await client.head()).number) + 1
    if limit and last and next_block - last < limit:
        raise ChainError(
            f"{what} at block {last}; {name} is {limit} blocks: rate limited until block "
            f"{last + limit}",
            code="rate_limited",
        )


async def need_subnet(client: ChainClient, netuid: int) -> int:
    """The subnet's burn (rao); ``subnet_not_found`` (from the chain) if there is none."""
    return int((await client.subnet_info(netuid)).burn)


async def need_unregistered(client: ChainClient, netuid: int, hotkey: str) -> None:
    uid = await client.uid_for_hotkey(netuid, hotkey)
    if uid is not None:
        raise ChainError(
            f"hotkey {hotkey} is already registered on subnet {netuid} as uid {uid}: nothing to "
            "pay for (see `subnetkit metagraph " + str(netuid) + "`)",
            code="already_registered",
        )


async def need_registered(client: ChainClient, netuid: int, hotkey: str) -> None:
    if await client.uid_for_hotkey(netuid, hotkey) is None:
        raise NotRegisteredError(
            f"hotkey {hotkey} is not registered on subnet {netuid}: register it first with "
            f"`subnetkit register --netuid {netuid}`"
        )


async def need_mechanism(client: ChainClient, name: str) -> None:
    """The chain runs payout mechanism ``name`` (``delegation``, ``childkeys``), else the code
    the chain itself answers (``delegation_disabled``, ...)."""
    if not getattr(await client.info(), name):
        raise ChainError(
            f"this chain runs without {name}: start it with the genesis flag "
            f"(`subnetkit chain start --dev --{name}`)",
            code=f"{name}_disabled",
        )


async def need_hotkey_owner(
    client: ChainClient, coldkey: str, hotkey: str, netuid: int | None = None
) -> None:
    """``hotkey`` is registered (on ``netuid``, or on any subnet) by ``coldkey``: only the
    coldkey that registered a hotkey may set its takes and children."""
    import asyncio

    if netuid is not None:
        await need_registered(client, netuid, hotkey)
        netuids = [netuid]
    else:
        netuids = [sn.netuid for sn in await client.list_subnets()]
    found = await asyncio.gather(*(client.neuron(n, hotkey=hotkey) for n in netuids))
    owners = {nrn.coldkey for nrn in found if nrn is not None}
    if not owners:
        raise NotRegisteredError(
            f"hotkey {hotkey} is registered on no subnet: register it first with "
            "`subnetkit register --netuid N`"
        )
    if coldkey not in owners:
        raise ChainError(
            f"hotkey {hotkey} is owned by {owners.pop()}, not {coldkey}: sign with the coldkey "
            "that registered it",
            code="not_hotkey_owner",
        )


__all__ = [
    "need_balance",
    "need_hotkey_owner",
    "need_mechanism",
    "need_past_rate_limit",
    "need_registered",
    "need_subnet",
    "need_unregistered",
]
