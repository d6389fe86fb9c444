"""A real chain in the test's process: ``ChainService`` on 127.0.0.1:0, SQLite in a temp dir.

It runs in manual mode with automine by default: every submitted extrinsic gets its own block
at once, and time moves only when the test says so (:meth:`ChainHarness.produce`), so no test
sleeps waiting for a block. Alice (sudo), Bob and Charlie are the dev keys with funds; the
harness creates subnets and registers hotkeys in one call each.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from subnetkit.chain.client import ChainClient
from subnetkit.chain.genesis import GenesisConfig
from subnetkit.chain.service import ChainService
from subnetkit.core.keys import Signer, dev_signer

#: One TAO in RAO (the chain's amounts are integers of RAO).
TAO = 1_000_000_000


@dataclass
class ChainHarness:
    """A started chain service, a client connected to it, and the funded dev keys."""

    service: ChainService
    client: ChainClient
    alice: Signer = field(default_factory=lambda: dev_signer("alice"))
    bob: Signer = field(default_factory=lambda: dev_signer("bob"))
    charlie: Signer = field(default_factory=lambda: dev_signer("charlie"))

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` of the chain (what ``--chain-endpoint`` takes)."""
        return self.service.address

    async def produce(self, count: int = 1) -> int:
        """Produce ``count`` blocks; returns the new head number."""
        for _ in range(count):
            await self.service.produce_block()
        return int(self.service.head.number)

    async def produce_until_epoch(self, netuid: int) -> int:
        """Produce blocks up to and including the next epoch block of ``netuid``."""
        info = await self.client.subnet_info(netuid)
        return await self.produce(int(info.blocks_until_next_epoch))

    async def subnet(
        self, owner: Signer | None = None, *, commit_reveal: bool = False, **hyperparams: int
    ) -> tuple[int, Signer]:
        """A new subnet owned by ``owner`` (Alice); returns (netuid, owner hotkey).

        Commit-reveal is off unless asked for, so weights count at the next epoch; other
        hyperparameters are set by name (``tempo=10``)."""
        owner = owner or self.alice
        hotkey = Signer.generate()
        netuid = await self.client.create_subnet(owner, hotkey.ss58)
        settings = {"commit_reveal_weights_enabled": int(commit_reveal), **hyperparams}
        for name, value in settings.items():
            await self.client.sudo_set_hyperparameter(self.alice, netuid, name, value)
        return netuid, hotkey

    async def fees_paid(self, who: str, after_block: int) -> int:
        """Rao ``who`` paid in fees in blocks ``after_block + 1`` .. head, summed from the
        ``TransactionFeePaid`` events the stored blocks carry."""
        return await fees_paid(self.client, who, after_block)

    async def register(
        self, netuid: int, count: int, coldkey: Signer | None = None
    ) -> list[Signer]:
        """``count`` fresh hotkeys registered on ``netuid`` (burned by ``coldkey``, Bob)."""
        hotkeys = [Signer.generate() for _ in range(count)]
        for hotkey in hotkeys:
            await self.client.burned_register(coldkey or self.bob, netuid, hotkey.ss58)
        return hotkeys


async def fees_paid(client: ChainClient, who: str, after_block: int) -> int:
    """Fees ``who`` paid after ``after_block`` (see :meth:`ChainHarness.fees_paid`)."""
    head = (await client.head()).number
    total = 0
    for number in range(after_block + 1, head + 1):
        for event in (await client.block(number)).events:
            data = json.loads(event.data_json)
            if event.name == "TransactionFeePaid" and data["who"] == who:
                total += int(data["fee"])
    return total


@contextlib.asynccontextmanager
async def running_chain(
    data_dir: Path | None = None,
    *,
    port: int = 0,
    manual: bool = True,
    automine: bool = True,
    genesis: GenesisConfig | None = None,
    keep_blocks: int = 256,
    **service_options: Any,
) -> AsyncIterator[ChainHarness]:
    """A started chain and a connected client; stopped (and a temp dir removed) on exit.

    ``data_dir`` None: a temporary directory. Pass one to restart a chain on the same data.
    ``service_options`` go to :class:`ChainService` as they are (e.g. ``pool_limits``).
    """
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sk-chain-")))
        service = ChainService(
            data_dir,
            port=port,
            manual=manual,
            automine=automine,
            genesis=genesis,
            keep_blocks=keep_blocks,
            **service_options,
        )
        async with service, ChainClient(service.address, timeout=10.0) as client:
            yield ChainHarness(service, client)


__all__ = ["TAO", "ChainHarness", "fees_paid", "running_chain"]
