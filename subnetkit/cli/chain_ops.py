"""Chain operations from the command line: ``subnet create|list|show|hyperparams|set``,
``register``, ``stake add|remove|list``, ``transfer`` and ``metagraph NETUID``.

Every command talks to a running chain (``--chain-endpoint``, env ``SUBNETKIT_CHAIN__ENDPOINT``)
through :class:`chain.client.ChainClient` and prints either human text (rich tables) or, with
``--format json``, one JSON document on stdout. Keys come from a btcli-layout wallet
(``--wallet-name/--wallet-hotkey/--wallet-path``, the coldkey password from ``--password-env``)
or, for dev chains, from a secret URI (``--uri //Alice``, used for both keys as btcli does).

Amounts are typed in TAO (``1.5``) and sent in rao; alpha amounts use the same 1e9 base unit.
Refusals are the chain's typed errors, re-raised unchanged, so the CLI's ``main()`` prints one
line such as ``error[insufficient_balance]: ...`` with the chain's code and a non-zero exit.

Coldkeys are decrypted before the event loop starts: bittensor-wallet's argon2 holds the GIL.
Chain imports happen inside command bodies so ``subnetkit --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from subnetkit.core.errors import ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

T = TypeVar("T")

RAO_PER_TAO = 1_000_000_000
U64_MAX = 2**64 - 1
DEFAULT_ENDPOINT = "127.0.0.1:9944"
#: inclusion waits at least this long even when --timeout (for queries) is shorter
MIN_SUBMIT_TIMEOUT = 60.0

subnet_app = typer.Typer(help="Create, inspect and configure subnets.", no_args_is_help=True)
stake_app = typer.Typer(
    help="Stake TAO on hotkeys, unstake, and list stakes.", no_args_is_help=True
)

# -- shared options ------------------------------------------------------------------------------
Endpoint = Annotated[
    str,
    typer.Option(
        "--chain-endpoint",
        envvar="SUBNETKIT_CHAIN__ENDPOINT",
        help="HOST:PORT of the chain.",
    ),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", envvar="SUBNETKIT_CHAIN__TIMEOUT", help="Seconds per chain query."),
]
Format = Annotated[str, typer.Option("--format", help="text or json.")]
WalletName = Annotated[
    str, typer.Option("--wallet-name", envvar="SUBNETKIT_WALLET__NAME", help="Wallet to use.")
]
WalletHotkey = Annotated[
    str,
    typer.Option(
        "--wallet-hotkey", envvar="SUBNETKIT_WALLET__HOTKEY", help="Hotkey in the wallet."
    ),
]
WalletPath = Annotated[
    Path | None,
    typer.Option(
        "--wallet-path",
        envvar="SUBNETKIT_WALLET__PATH",
        help="Wallet root (default ~/.subnetkit/wallets).",
    ),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option("--password-env", help="Environment variable holding the coldkey password."),
]
Uri = Annotated[
    str | None,
    typer.Option("--uri", help="Dev key URI (//Alice or alice) instead of a wallet, both keys."),
]
Netuid = Annotated[int, typer.Option("--netuid", min=0, help="Subnet id.")]
HotkeyAddress = Annotated[
    str | None,
    typer.Option("--hotkey", help="Hotkey SS58 address (default: the wallet's hotkey)."),
]


@dataclass(frozen=True)
class Connection:
    """Where the chain is, how long to wait, and how to print: every command's common part."""

    endpoint: str
    timeout: float
    fmt: str

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)
        if self.fmt not in ("text", "json"):
            raise ConfigError(f"unknown --format {self.fmt!r}: use 'text' or 'json'")
        if self.timeout <= 0:
            raise ConfigError(f"--timeout must be positive seconds, not {self.timeout}")

    @property
    def submit_timeout(self) -> float:
        return max(self.timeout, MIN_SUBMIT_TIMEOUT)

    def run(self, work: Callable[[ChainClient], Awaitable[T]]) -> T:
        """Open a client, run ``work`` with it on a fresh event loop, close the client."""
        from subnetkit.chain.client import ChainClient

        async def main() -> T:
            async with ChainClient(self.endpoint, timeout=self.timeout) as client:
                return await work(client)

        return _run(main())

    def emit(self, doc: Any, text: Callable[[], None]) -> None:
        """Print ``doc`` as one JSON line, or call ``text`` to print it for people."""
        if self.fmt == "json":
            typer.echo(json.dumps(doc))
        else:
            text()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass(frozen=True)
class Keys:
    """Which keys a command signs with: a wallet on disk, or a dev URI for both keys."""

    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: Path | None = None
    password_env: str | None = None
    uri: str | None = None

    @property
    def _path(self) -> Path:
        from subnetkit.core import wallet

        return wallet.resolve_path(self.wallet_path or wallet.DEFAULT_WALLET_PATH)

    def _uri_signer(self) -> Signer:
        from subnetkit.core.keys import DEV_ACCOUNTS, Signer

        assert self.uri is not None
        uri = self.uri
        if not uri.startswith("/") and uri.capitalize() in DEV_ACCOUNTS:
            uri = f"//{uri.capitalize()}"  # btcli's short dev names: alice -> //Alice
        return Signer.from_uri(uri)

    def coldkey(self) -> Signer:
        """The signing coldkey (decrypts the wallet's coldkey: seconds when encrypted)."""
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer()
        return wallet.load_coldkey(
            self.wallet_name, path=self._path, password_env=self.password_env, interactive=True
        )

    def coldkey_address(self) -> str:
        """The coldkey's SS58 address, without decrypting anything."""
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer().ss58
        return wallet.coldkeypub(self.wallet_name, path=self._path)

    def hotkey_address(self) -> str:
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer().ss58
        return wallet.load_hotkey(self.wallet_name, self.wallet_hotkey, path=self._path).ss58


# -- parsing ------------------------------------------------------------------------------------
def check_endpoint(endpoint: str) -> str:
    """``HOST:PORT`` with a numeric port, else a one-line ConfigError."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--chain-endpoint {endpoint!r} is not HOST:PORT (e.g. {DEFAULT_ENDPOINT})"
        )
    return endpoint


def parse_tao(text: str, what: str = "--amount", unit: str = "TAO") -> int:
    """``"1.5"`` TAO -> 1_500_000_000 rao, exactly (no float rounding); at most 9 decimals.
    Alpha amounts use the same 1e9 base unit (``unit`` only changes the messages)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"{what} {text!r} is not a number of {unit} (e.g. 1.5)") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{what} {text!r} must be a positive number of {unit}")
    rao = value * RAO_PER_TAO
    if rao != rao.to_integral_value():
        raise ConfigError(f"{what} {text!r} has more than 9 decimals (the smallest unit is 1e-9)")
    if rao > U64_MAX:
        raise ConfigError(f"{what} {text!r} is larger than the chain can hold")
    return int(rao)


def parse_hyperparameter_value(name: str, text: str) -> int:
    """Hyperparameters are raw chain integers; ``true``/``false`` are accepted for 0/1 flags."""
    raw = text.strip().lower()
    if raw in ("true", "false"):
        return int(raw == "true")
    try:
        return int(raw, 0)
    except ValueError:
        raise ConfigError(
            f"{name} value {text!r} is not an integer: hyperparameters are raw chain integers "
            "(u16 fractions x65535, blocks, rao, 0/1)"
        ) from None


def fmt_tao(rao: int | float) -> str:
    return f"{rao / RAO_PER_TAO:,.9f}".rstrip("0").rstrip(".")


def _check_address(address: str, what: str) -> str:
    from subnetkit.core.keys import is_valid_ss58

    if not is_valid_ss58(address):
        raise ConfigError(f"{what} {address!r} is not an SS58 address")
    return address


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def _console() -> Any:
    """Rich output; when stdout is a pipe or file (no terminal width to fit), print wide rows
    rather than folding addresses across lines."""
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(soft_wrap=False, width=max(console.width, 160))
    return console


def _table(title: str, columns: list[str]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


# -- subnet ---------------------------------------------------------------------------------------
def _subnet_doc(info: Any) -> dict[str, Any]:
    return {
        "netuid": info.netuid,
        "n": info.n,
        "max_allowed_uids": info.hyperparameters.get("max_allowed_uids"),
        "owner_coldkey": info.owner_coldkey,
        "owner_hotkey": info.owner_hotkey,
        "registered_at": info.registered_at,
        "tempo": info.tempo,
        "blocks_until_next_epoch": info.blocks_until_next_epoch,
        "last_epoch_block": info.last_epoch_block,
        "burn_rao": info.burn,
        "pool": {
            "tao_in_rao": info.pool.tao_in,
            "alpha_in": info.pool.alpha_in,
            "alpha_out": info.pool.alpha_out,
            "price": info.pool.price,
        },
        "pending_emission_rao": {
            "server": info.pending_server,
            "validator": info.pending_validator,
            "owner": info.pending_owner,
        },
        "block": info.block,
    }


@subnet_app.command("create")
def subnet_create(
    hotkey: HotkeyAddress = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_hotkey: WalletHotkey = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Create a subnet owned by the coldkey (pays the lock cost); the hotkey becomes uid 0."""
    conn = Connection(endpoint, timeout, fmt)
    keys = Keys(wallet_name, wallet_hotkey, wallet_path, password_env, uri)
    owner_hotkey = _check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()
    coldkey = keys.coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
        lock = (await client.info()).subnet_lock_cost
        netuid = await client.create_subnet(coldkey, owner_hotkey, timeout=conn.submit_timeout)
        return {
            "netuid": netuid,
            "owner_coldkey": coldkey.ss58,
            "owner_hotkey": owner_hotkey,
            "lock_cost_rao": lock,
        }

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"created subnet {doc['netuid']}: owner {doc['owner_coldkey']}, hotkey "
            f"{doc['owner_hotkey']} (uid 0), locked {fmt_tao(doc['lock_cost_rao'])} TAO"
        ),
    )


@subnet_app.command("list")
def subnet_list(
    endpoint: Endpoint = DEFAULT_ENDPOINT, timeout: Timeout = 10.0, fmt: Format = "text"
) -> None:
    """Every subnet with its size, owner, epoch timing and pool price."""
    conn = Connection(endpoint, timeout, fmt)
    subnets = conn.run(lambda client: client.list_subnets())
    docs = [_subnet_doc(s) for s in subnets]

    def text() -> None:
        if not docs:
            typer.echo("no subnets yet: create one with `subnetkit subnet create`")
            return
        table = _table(
            "subnets", ["netuid", "n/max", "owner", "tempo", "next epoch", "price", "burn TAO"]
        )
        for d in docs:
            table.add_row(
                str(d["netuid"]),
                f"{d['n']}/{d['max_allowed_uids']}",
                _short(d["owner_coldkey"]),
                str(d["tempo"]),
                f"in {d['blocks_until_next_epoch']}",
                f"{d['pool']['price']:.4f}",
                fmt_tao(d["burn_rao"]),
            )
        _console().print(table)

    conn.emit({"subnets": docs}, text)


@subnet_app.command("show")
def subnet_show(
    netuid: Annotated[int, typer.Argument(min=0, help="Subnet id.")],
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
) -> None:
    """One subnet: owner, size, epoch timing, pool and pending emission."""
    conn = Connection(endpoint, timeout, fmt)
    doc = _subnet_doc(conn.run(lambda client: client.subnet_info(netuid)))

    def text() -> None:
        pool, pending = doc["pool"], doc["pending_emission_rao"]
        lines = [
            f"subnet {doc['netuid']} at block {doc['block']}",
            f"  owner coldkey  {doc['owner_coldkey']}",
            f"  owner hotkey   {doc['owner_hotkey']}",
            f"  neurons        {doc['n']} / {doc['max_allowed_uids']}",
            f"  tempo          {doc['tempo']} (next epoch in {doc['blocks_until_next_epoch']} "
            f"blocks, last at {doc['last_epoch_block']})",
            f"  burn           {fmt_tao(doc['burn_rao'])} TAO per registration",
            f"  pool           {fmt_tao(pool['tao_in_rao'])} TAO / {fmt_tao(pool['alpha_in'])} "
            f"alpha, price {pool['price']:.6f}",
            f"  pending        server {fmt_tao(pending['server'])}, validator "
            f"{fmt_tao(pending['validator'])}, owner {fmt_tao(pending['owner'])} (alpha)",
        ]
        typer.echo("\n".join(lines))

    conn.emit(doc, text)


@subnet_app.command("hyperparams")
def subnet_hyperparams(
    netuid: Annotated[int, typer.Argument(min=0, help="Subnet id.")],
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
) -> None:
    """A subnet's hyperparameters, with who may set each and within which bounds."""
    from subnetkit.chain.hyperparams import SPECS

    conn = Connection(endpoint, timeout, fmt)
    values = conn.run(lambda client: client.hyperparameters(netuid))
    rows = []
    for name in sorted(values):
        spec = SPECS.get(name)
        rows.append(
            {
                "name": name,
                "value": values[name],
                "settable_by": None
                if spec is None
                else ("owner" if spec.owner_settable else "sudo"),
                "range": None if spec is None else [spec.lo, spec.hi],
                "owner_range": None
                if spec is None or not spec.owner_settable
                else [spec.owner_lo, spec.owner_hi],
                "doc": "" if spec is None else spec.doc,
            }
        )

    def text() -> None:
        table = _table(
            f"subnet {netuid} hyperparameters", ["name", "value", "set by", "range", "meaning"]
        )
        for r in rows:
            bounds = r["owner_range"] or r["range"]
            table.add_row(
                r["name"],
                str(r["value"]),
                r["settable_by"] or "?",
                "" if bounds is None else f"{bounds[0]}..{bounds[1]}",
                r["doc"],
            )
        _console().print(table)

    conn.emit({"netuid": netuid, "hyperparameters": rows}, text)


@subnet_app.command("set")
def subnet_set(
    netuid: Annotated[int, typer.Argument(min=0, help="Subnet id.")],
    name: Annotated[str, typer.Argument(help="Hyperparameter name (see `subnet hyperparams`).")],
    value: Annotated[str, typer.Argument(help="New integer value (raw chain units).")],
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Set a hyperparameter as the subnet owner's coldkey (owner-settable ones) or the sudo key."""
    conn = Connection(endpoint, timeout, fmt)
    number = parse_hyperparameter_value(name, value)
    signer = Keys(wallet_name, "default", wallet_path, password_env, uri).coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
        receipt = await client.set_hyperparameter(
            signer, netuid, name, number, timeout=conn.submit_timeout
        )
        return {"netuid": netuid, "name": name, "value": number, "block": receipt.block_number}

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(f"subnet {netuid}: {name} = {number} (block {doc['block']})"),
    )


# -- registration -------------------------------------------------------------------------------
def register_cmd(
    netuid: Netuid,
    hotkey: HotkeyAddress = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_hotkey: WalletHotkey = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Register a hotkey on a subnet; the coldkey pays the subnet's burn."""
    conn = Connection(endpoint, timeout, fmt)
    keys = Keys(wallet_name, wallet_hotkey, wallet_path, password_env, uri)
    target = _check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()
    coldkey = keys.coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
        burn = (await client.subnet_info(netuid)).burn
        uid = await client.burned_register(coldkey, netuid, target, timeout=conn.submit_timeout)
        return {
            "netuid": netuid,
            "uid": uid,
            "hotkey": target,
            "coldkey": coldkey.ss58,
            "burn_rao": burn,
        }

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"registered {target} on subnet {netuid} as uid {doc['uid']} "
            f"(burned {fmt_tao(doc['burn_rao'])} TAO from {coldkey.ss58})"
        ),
    )


# -- stake ----------------------------------------------------------------------------------------
@stake_app.command("add")
def stake_add(
    netuid: Netuid,
    amount: Annotated[str, typer.Option("--amount", help="TAO to stake, e.g. 1.5.")],
    hotkey: HotkeyAddress = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_hotkey: WalletHotkey = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Stake TAO from the coldkey on a registered hotkey; the pool swaps it into alpha."""
    conn = Connection(endpoint, timeout, fmt)
    rao = parse_tao(amount)
    keys = Keys(wallet_name, wallet_hotkey, wallet_path, password_env, uri)
    target = _check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()
    coldkey = keys.coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
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

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"staked {fmt_tao(rao)} TAO on {target} in subnet {netuid}: got "
            f"{fmt_tao(doc['alpha'])} alpha (now {fmt_tao(doc['stake_alpha'])} alpha)"
        ),
    )


@stake_app.command("remove")
def stake_remove(
    netuid: Netuid,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Alpha to unstake, e.g. 0.5.")
    ] = None,
    unstake_all: Annotated[bool, typer.Option("--all", help="Unstake everything.")] = False,
    hotkey: HotkeyAddress = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_hotkey: WalletHotkey = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Unstake alpha from a hotkey; the pool swaps it back into TAO for the coldkey."""
    conn = Connection(endpoint, timeout, fmt)
    if (amount is None) == (not unstake_all):
        raise ConfigError("give exactly one of --amount ALPHA or --all")
    units = None if amount is None else parse_tao(amount, unit="alpha")
    keys = Keys(wallet_name, wallet_hotkey, wallet_path, password_env, uri)
    target = _check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()
    coldkey = keys.coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
        from subnetkit.core.errors import ChainError

        alpha = units
        if alpha is None:
            alpha = await client.stake(netuid, target, coldkey.ss58)
            if alpha == 0:
                raise ChainError(
                    f"{coldkey.ss58} has no stake on {target} in subnet {netuid}; nothing to "
                    "unstake (see `subnetkit stake list`)",
                    code="insufficient_stake",
                )
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

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"unstaked {fmt_tao(doc['alpha'])} alpha from {target} in subnet {netuid}: got "
            f"{fmt_tao(doc['tao_rao'])} TAO ({fmt_tao(doc['stake_alpha'])} alpha left)"
        ),
    )


@stake_app.command("list")
def stake_list(
    netuid: Annotated[int | None, typer.Option("--netuid", min=0, help="Only this subnet.")] = None,
    coldkey: Annotated[
        str | None, typer.Option("--coldkey", help="Coldkey SS58 (default: the wallet's).")
    ] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_path: WalletPath = None,
    uri: Uri = None,
) -> None:
    """A coldkey's stakes on every subnet (or one), with the free balance. Needs no password."""
    conn = Connection(endpoint, timeout, fmt)
    who = (
        _check_address(coldkey, "--coldkey")
        if coldkey
        else Keys(wallet_name, wallet_path=wallet_path, uri=uri).coldkey_address()
    )

    async def work(client: ChainClient) -> dict[str, Any]:
        subnets = (
            [await client.subnet_info(netuid)]
            if netuid is not None
            else await client.list_subnets()
        )
        balance = await client.balance(who)
        stakes: list[dict[str, Any]] = []
        for sn in subnets:
            mg = await client.metagraph(sn.netuid)
            staked = [uid for uid, s in enumerate(mg.alpha_stake.tolist()) if s > 0]
            own = await asyncio.gather(
                *(client.stake(sn.netuid, mg.hotkeys[uid], who) for uid in staked)
            )
            for uid, alpha in zip(staked, own, strict=True):
                if alpha:
                    stakes.append(
                        {
                            "netuid": sn.netuid,
                            "uid": uid,
                            "hotkey": mg.hotkeys[uid],
                            "alpha": alpha,
                            "price": sn.pool.price,
                            "tao_value_rao": int(alpha * sn.pool.price),
                        }
                    )
        return {"coldkey": who, "balance_rao": balance, "stakes": stakes}

    doc = conn.run(work)

    def text() -> None:
        typer.echo(f"coldkey {who}: free balance {fmt_tao(doc['balance_rao'])} TAO")
        if not doc["stakes"]:
            typer.echo("  no stakes")
            return
        table = _table("stakes", ["netuid", "uid", "hotkey", "alpha", "≈ TAO (spot)"])
        for s in doc["stakes"]:
            table.add_row(
                str(s["netuid"]),
                str(s["uid"]),
                s["hotkey"],
                fmt_tao(s["alpha"]),
                fmt_tao(s["tao_value_rao"]),
            )
        _console().print(table)

    conn.emit(doc, text)


# -- transfer ---------------------------------------------------------------------------------
def transfer_cmd(
    dest: Annotated[str, typer.Option("--dest", help="Destination SS58 address.")],
    amount: Annotated[str, typer.Option("--amount", help="TAO to send, e.g. 1.5.")],
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
    wallet_name: WalletName = "default",
    wallet_path: WalletPath = None,
    password_env: PasswordEnv = None,
    uri: Uri = None,
) -> None:
    """Send free TAO from the coldkey to another address."""
    conn = Connection(endpoint, timeout, fmt)
    rao = parse_tao(amount)
    _check_address(dest, "--dest")
    coldkey = Keys(wallet_name, "default", wallet_path, password_env, uri).coldkey()

    async def work(client: ChainClient) -> dict[str, Any]:
        receipt = await client.transfer(coldkey, dest, rao, timeout=conn.submit_timeout)
        return {
            "from": coldkey.ss58,
            "dest": dest,
            "amount_rao": rao,
            "block": receipt.block_number,
            "extrinsic_hash": receipt.extrinsic_hash.hex(),
            "balance_rao": await client.balance(coldkey.ss58),
        }

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"sent {fmt_tao(rao)} TAO from {coldkey.ss58} to {dest} in block {doc['block']} "
            f"(balance now {fmt_tao(doc['balance_rao'])} TAO)"
        ),
    )


# -- metagraph ----------------------------------------------------------------------------------
def metagraph_doc(mg: Any) -> dict[str, Any]:
    """A JSON-ready view of a :class:`chain.metagraph.Metagraph` (one dict per uid)."""
    columns = {
        "stake": mg.stake.tolist(),
        "consensus": mg.consensus.tolist(),
        "incentive": mg.incentive.tolist(),
        "dividends": mg.dividends.tolist(),
        "emission": mg.emission.tolist(),
        "validator_trust": mg.validator_trust.tolist(),
        "validator_permit": mg.validator_permit.tolist(),
        "active": mg.active.tolist(),
        "last_update": mg.last_update.tolist(),
        "block_at_registration": mg.block_at_registration.tolist(),
    }
    neurons = []
    for uid in range(mg.n):
        axon = mg.axons[uid]
        row: dict[str, Any] = {"uid": uid, "hotkey": mg.hotkeys[uid], "coldkey": mg.coldkeys[uid]}
        row.update({name: values[uid] for name, values in columns.items()})
        row["axon"] = axon.address if axon.is_serving else None
        neurons.append(row)
    doc: dict[str, Any] = {
        "netuid": mg.netuid,
        "block": mg.block,
        "block_hash": mg.block_hash.hex(),
        "n": mg.n,
        "tempo": mg.tempo,
        "blocks_until_next_epoch": mg.blocks_until_next_epoch,
        "owner_hotkey": mg.owner_hotkey,
        "owner_coldkey": mg.owner_coldkey,
        "neurons": neurons,
    }
    if mg.with_weights:
        doc["weights_u16"] = mg.weights_u16.tolist()
    return doc


def metagraph_cmd(
    netuid: Annotated[int, typer.Argument(min=0, help="Subnet id.")],
    weights: Annotated[bool, typer.Option("--weights", help="Include the u16 weight matrix.")] = (
        False
    ),
    at_block: Annotated[int, typer.Option("--block", min=0, help="A past block (0: head).")] = 0,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = "text",
) -> None:
    """The subnet's metagraph at one block: stake, consensus, incentive, dividends, emission."""
    conn = Connection(endpoint, timeout, fmt)
    mg = conn.run(lambda client: client.metagraph(netuid, weights, at_block=at_block))
    doc = metagraph_doc(mg)

    def text() -> None:
        table = _table(
            f"subnet {netuid} metagraph at block {doc['block']} (n={doc['n']}, tempo "
            f"{doc['tempo']}, next epoch in {doc['blocks_until_next_epoch']})",
            ["uid", "hotkey", "coldkey", "stake", "C", "I", "D", "E", "Tv", "VP", "act", "upd"],
        )
        for r in doc["neurons"]:
            table.add_row(
                str(r["uid"]),
                _short(r["hotkey"]),
                _short(r["coldkey"]),
                f"{r['stake']:.4f}",
                f"{r['consensus']:.4f}",
                f"{r['incentive']:.4f}",
                f"{r['dividends']:.4f}",
                f"{r['emission']:.4f}",
                f"{r['validator_trust']:.4f}",
                "*" if r["validator_permit"] else "",
                "*" if r["active"] else "",
                str(r["last_update"]),
            )
        _console().print(table)

    conn.emit(doc, text)


def register(app: typer.Typer) -> None:
    app.add_typer(subnet_app, name="subnet")
    app.add_typer(stake_app, name="stake")
    app.command("register")(register_cmd)
    app.command("transfer")(transfer_cmd)
    app.command("metagraph")(metagraph_cmd)
