"""``subnetkit stake add|remove|list``: stake TAO on hotkeys, unstake, and list stakes.

TAO amounts are typed in TAO (``1.5``) and sent in rao; alpha amounts use the same 1e9 base unit.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import HotkeyAddress, Netuid
from subnetkit.cli.output import fmt_tao, new_table, rich_console
from subnetkit.cli.parsing import check_address, parse_tao
from subnetkit.cli.prechecks import need_balance, need_registered, need_subnet
from subnetkit.cli.session import Connection, Keys
from subnetkit.core.errors import ChainError, ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

stake_app = typer.Typer(
    help="Stake TAO on hotkeys, unstake, and list stakes.", no_args_is_help=True
)


@stake_app.command("add")
@chain_command(KeyOptions.SIGNING)
def stake_add(
    conn: Connection,
    keys: Keys,
    netuid: Netuid,
    amount: Annotated[str, typer.Option("--amount", help="TAO to stake, e.g. 1.5.")],
    hotkey: HotkeyAddress = None,
) -> None:
    """Stake TAO from the coldkey on a registered hotkey; the pool swaps it into alpha."""
    rao = parse_tao(amount)
    target = check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()

    async def check(client: ChainClient, address: str) -> None:
        if netuid != 0:  # the root network is no subnet_info entry, yet takes stake
            await need_subnet(client, netuid)
            await need_registered(client, netuid, target)
        await need_balance(client, address, rao, f"staking {fmt_tao(rao)} TAO")

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        alpha = await client.add_stake(coldkey, netuid, target, rao, timeout=conn.submit_timeout)
        total = await client.stake(netuid, target, coldkey.ss58)
        return {
            "netuid": netuid,
            "hotkey": target,
            "coldkey": coldkey.ss58,
            "tao_rao": rao,
            "alpha": alpha,
            "stake_alpha": total,
        }

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"staked {fmt_tao(rao)} TAO on {target} in subnet {netuid}: got "
            f"{fmt_tao(doc['alpha'])} alpha (now {fmt_tao(doc['stake_alpha'])} alpha)"
        ),
    )


@stake_app.command("remove")
@chain_command(KeyOptions.SIGNING)
def stake_remove(
    conn: Connection,
    keys: Keys,
    netuid: Netuid,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Alpha to unstake, e.g. 0.5.")
    ] = None,
    unstake_all: Annotated[bool, typer.Option("--all", help="Unstake everything.")] = False,
    hotkey: HotkeyAddress = None,
) -> None:
    """Unstake alpha from a hotkey; the pool swaps it back into TAO for the coldkey."""
    if (amount is None) == (not unstake_all):
        raise ConfigError("give exactly one of --amount ALPHA or --all")
    units = None if amount is None else parse_tao(amount, unit="alpha")
    target = check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()

    async def check(client: ChainClient, address: str) -> None:
        if netuid != 0:  # the root network is no subnet_info entry, yet holds stake
            await need_subnet(client, netuid)
        held = await client.stake(netuid, target, address)
        if held == 0 or (units is not None and units > held):
            raise ChainError(
                f"{address} holds {fmt_tao(held)} alpha on {target} in subnet {netuid}; "
                f"{'nothing to unstake' if held == 0 else 'ask for at most that much'} "
                "(see `subnetkit stake list`)",
                code="insufficient_stake",
            )

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        alpha = units if units is not None else await client.stake(netuid, target, coldkey.ss58)
        tao = await client.remove_stake(coldkey, netuid, target, alpha, timeout=conn.submit_timeout)
        left = await client.stake(netuid, target, coldkey.ss58)
        return {
            "netuid": netuid,
            "hotkey": target,
            "coldkey": coldkey.ss58,
            "alpha": alpha,
            "tao_rao": tao,
            "stake_alpha": left,
        }

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"unstaked {fmt_tao(doc['alpha'])} alpha from {target} in subnet {netuid}: got "
            f"{fmt_tao(doc['tao_rao'])} TAO ({fmt_tao(doc['stake_alpha'])} alpha left)"
        ),
    )


@stake_app.command("list")
@chain_command(KeyOptions.ADDRESS)
def stake_list(
    conn: Connection,
    keys: Keys,
    netuid: Annotated[int | None, typer.Option("--netuid", min=0, help="Only this subnet.")] = None,
    coldkey: Annotated[
        str | None, typer.Option("--coldkey", help="Coldkey SS58 (default: the wallet's).")
    ] = None,
) -> None:
    """A coldkey's stakes on every subnet (or one), with the free balance. Needs no password.

    Each stake shows its share of all stake on the hotkey and whether the coldkey owns the
    hotkey or nominates it (with delegation on, the share of the validator payout after take).
    """
    who = check_address(coldkey, "--coldkey") if coldkey else keys.coldkey_address()

    async def work(client: ChainClient) -> dict[str, Any]:
        info = await client.info()
        if netuid:
            subnets = [await client.subnet_info(netuid)]  # says which netuids exist if not
        elif netuid == 0 and not info.root:
            raise ConfigError("this chain has no root network (netuid 0): leave out --netuid 0")
        else:
            subnets = await client.list_subnets()
        balance = await client.balance(who)
        stakes: list[dict[str, Any]] = []
        root_hotkeys: dict[str, None] = {}
        for sn in subnets:
            mg = await client.metagraph(sn.netuid)
            root_hotkeys.update(dict.fromkeys(mg.hotkeys))
            if netuid == 0:
                continue
            staked = [uid for uid, s in enumerate(mg.alpha_stake.tolist()) if s > 0]
            details = await asyncio.gather(
                *(client.stake_detail(sn.netuid, mg.hotkeys[uid], who) for uid in staked)
            )
            for uid, detail in zip(staked, details, strict=True):
                if detail.alpha:
                    stakes.append(
                        _stake_row(sn.netuid, uid, mg.hotkeys[uid], mg.coldkeys[uid] == who, detail)
                        | {
                            "price": sn.pool.price,
                            "tao_value_rao": int(detail.alpha * sn.pool.price),
                        }
                    )
        if info.root and netuid in (None, 0):
            hks = list(root_hotkeys)
            details = await asyncio.gather(*(client.stake_detail(0, hk, who) for hk in hks))
            for hk, detail in zip(hks, details, strict=True):
                if detail.alpha:
                    row = _stake_row(0, None, hk, False, detail)
                    stakes.append(row | {"price": 1.0, "tao_value_rao": detail.alpha})
        return {"coldkey": who, "balance_rao": balance, "stakes": stakes}

    doc = conn.run(work)

    def text() -> None:
        typer.echo(f"coldkey {who}: free balance {fmt_tao(doc['balance_rao'])} TAO")
        if not doc["stakes"]:
            typer.echo("  no stakes")
            return
        table = new_table(
            "stakes (netuid 0: TAO on root)",
            ["netuid", "uid", "hotkey", "alpha", "≈ TAO (spot)", "share of hotkey", "as"],
        )
        for s in doc["stakes"]:
            table.add_row(
                str(s["netuid"]),
                "-" if s["uid"] is None else str(s["uid"]),
                s["hotkey"],
                fmt_tao(s["alpha"]),
                fmt_tao(s["tao_value_rao"]),
                f"{s['share'] * 100:.2f}%",
                s["role"]
                + (f" (take {s['delegate_take'] / 655.35:.2f}%)" if s["delegate_take"] else ""),
            )
        rich_console().print(table)

    conn.emit(doc, text)


def _stake_row(
    netuid: int, uid: int | None, hotkey: str, owned: bool, detail: Any
) -> dict[str, Any]:
    """One stake with the coldkey's share of everything on the hotkey: a nominator's share of
    the validator payout after the hotkey owner's take (docs/epoch.md §10.3)."""
    total = int(detail.hotkey_total)
    return {
        "netuid": netuid,
        "uid": uid,
        "hotkey": hotkey,
        "alpha": int(detail.alpha),
        "hotkey_total": total,
        "share": int(detail.alpha) / total if total else 0.0,
        "role": "owner" if owned else "nominator",
        "delegate_take": int(detail.delegate_take),
    }


def register(app: typer.Typer) -> None:
    app.add_typer(stake_app, name="stake")
