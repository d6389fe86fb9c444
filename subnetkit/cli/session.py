"""What every chain command shares when it runs: a :class:`Connection` (where the chain is, how
long to wait, how to print) and its :class:`Keys` (a btcli-layout wallet, or a dev URI for both
keys, as btcli does).

Coldkeys are decrypted before the event loop starts: bittensor-wallet's argon2 holds the GIL.
Chain and wallet imports happen inside the methods so ``subnetkit --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from subnetkit.cli.options import OutputFormat
from subnetkit.cli.parsing import check_endpoint
from subnetkit.core.errors import ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

T = TypeVar("T")

#: inclusion waits at least this long even when --timeout (for queries) is shorter
MIN_SUBMIT_TIMEOUT = 60.0
#: how long a command waits for a chain that does not answer at all before saying so
CONNECT_TIMEOUT = 2.0
#: the command being run, as typed (``subnetkit subnet list``): errors name it, not an RPC
COMMAND = ["subnetkit"]


def command_line() -> str:
    """The running command's words (set by ``subnetkit.cli.main``)."""
    return " ".join(COMMAND)


@dataclass(frozen=True)
class Connection:
    """Where the chain is, how long to wait, and how to print: every command's common part."""

    endpoint: str
    timeout: float
    fmt: OutputFormat

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)
        if self.timeout <= 0:
            raise ConfigError(f"--timeout must be positive seconds, not {self.timeout}")

    @property
    def submit_timeout(self) -> float:
        return max(self.timeout, MIN_SUBMIT_TIMEOUT)

    def run(self, work: Callable[[ChainClient], Awaitable[T]]) -> T:
        """Open a client, run ``work`` with it on a fresh event loop, close the client.

        Nothing listening at the endpoint is reported within ``CONNECT_TIMEOUT`` seconds, not
        after the query timeout, and every "chain unavailable" error names the command, the
        endpoint and how to start a chain.
        """
        from subnetkit.chain.client import ChainClient
        from subnetkit.core.errors import ChainUnavailableError

        async def main() -> T:
            async with ChainClient(self.endpoint, timeout=self.timeout) as client:
                await client.wait_reachable(min(self.timeout, CONNECT_TIMEOUT))
                return await work(client)

        try:
            return _run(main())
        except ChainUnavailableError as exc:
            raise ChainUnavailableError(
                f"`{command_line()}` found no chain at {self.endpoint} ({exc.message}); start "
                "one with `subnetkit chain start --dev`, or give its address with "
                "--chain-endpoint HOST:PORT"
            ) from None

    def run_signed(
        self,
        keys: Keys,
        check: Callable[[ChainClient, str], Awaitable[None]],
        work: Callable[[ChainClient, Signer], Awaitable[T]],
    ) -> T:
        """Like :meth:`run` for a command the coldkey pays for: ``check(client, coldkey
        address)`` runs the public checks (balance, subnet, registration) first, so a command
        that cannot succeed says why before the seconds spent decrypting the coldkey; then the
        coldkey is decrypted and ``work(client, coldkey)`` runs."""

        async def both(client: ChainClient) -> T:
            await check(client, keys.coldkey_address())
            return await work(client, keys.coldkey())

        return self.run(both)

    def run_as_hotkey(
        self,
        keys: Keys,
        check: Callable[[ChainClient, str], Awaitable[None]],
        work: Callable[[ChainClient, Signer], Awaitable[T]],
    ) -> T:
        """Like :meth:`run_signed` for a command the hotkey signs (axon, weights): the hotkey is
        plain in btcli's layout, so nothing waits on a password, but ``check(client, hotkey
        address)`` still runs first so a refusal costs no fee and says why."""
        hotkey = keys.hotkey()

        async def both(client: ChainClient) -> T:
            await check(client, hotkey.ss58)
            return await work(client, hotkey)

        return self.run(both)

    def emit(self, doc: Any, text: Callable[[], None]) -> None:
        """Print ``doc`` as one JSON line, or call ``text`` to print it for people."""
        if self.fmt is OutputFormat.JSON:
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
        """The signing coldkey (decrypts the wallet's coldkey: seconds when encrypted, said on
        stderr so a silent pause is not mistaken for a hang)."""
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer()
        typer.echo(f"decrypting coldkey {self.wallet_name!r} ...", err=True)
        return wallet.load_coldkey(
            self.wallet_name, path=self._path, password_env=self.password_env, interactive=True
        )

    def coldkey_address(self) -> str:
        """The coldkey's SS58 address, without decrypting anything."""
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer().ss58
        return wallet.coldkeypub(self.wallet_name, path=self._path)

    def hotkey(self) -> Signer:
        """The wallet's hotkey (plain in btcli's layout: no password), or the dev URI's key."""
        from subnetkit.core import wallet

        if self.uri:
            return self._uri_signer()
        return wallet.load_hotkey(self.wallet_name, self.wallet_hotkey, path=self._path)

    def hotkey_address(self) -> str:
        return self.hotkey().ss58
