"""Chain fixtures for tests and localnet-style harnesses.

``running_chain`` starts a real :class:`chain.service.ChainService` on 127.0.0.1:0 with a temp
data dir and a connected :class:`chain.client.ChainClient`. By default it is in manual mode with
automine: each submission gets its own block at once, and ``produce(n)`` advances time in blocks,
so no test ever sleeps waiting for a block. ``ChainProcess`` runs the chain as a real subprocess
(``subnetkit chain start --port 0 --ready-file F``) for tests whose claim is about processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from subnetkit.chain.client import ChainClient
from subnetkit.chain.service import ChainService
from subnetkit.core.keys import Signer, dev_signer

TAO = 1_000_000_000


@dataclass
class ChainHarness:
    service: ChainService
    client: ChainClient
    alice: Signer = field(default_factory=lambda: dev_signer("alice"))
    bob: Signer = field(default_factory=lambda: dev_signer("bob"))
    charlie: Signer = field(default_factory=lambda: dev_signer("charlie"))

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
        """A new subnet owned by ``owner`` (Alice); returns (netuid, owner hotkey)."""
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
        hotkeys = [Signer.generate() for _ in range(count)]
        for hk in hotkeys:
            await self.client.burned_register(coldkey or self.bob, netuid, hk.ss58)
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
    data_dir: Path,
    *,
    port: int = 0,
    manual: bool = True,
    automine: bool = True,
    **kwargs: object,
) -> AsyncIterator[ChainHarness]:
    service = ChainService(data_dir, port=port, manual=manual, automine=automine, **kwargs)  # type: ignore[arg-type]
    async with service, ChainClient(service.address, timeout=10.0) as client:
        yield ChainHarness(service, client)


class ChainProcess:
    """``subnetkit chain start`` as a child process; ``port`` is read from its ready file."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.ready = data_dir.parent / f"{data_dir.name}.ready.json"
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30.0) -> ChainProcess:
        self.ready.unlink(missing_ok=True)
        code = "import sys; from subnetkit.cli import main; sys.exit(main())"
        cmd = ["-c", code, "chain", "start", "--port", "0", "--data-dir", str(self.data_dir)]
        cmd += ["--ready-file", str(self.ready), *self.args]
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=log
            )
        async with asyncio.timeout(timeout):
            while not self.ready.exists():
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"chain exited {self.proc.returncode}: {self.log.read_text()}"
                    )
                await asyncio.sleep(0.05)
        self.port = int(json.loads(self.ready.read_text())["port"])
        return self

    def log_tail(self, lines: int = 30) -> str:
        """The end of the chain's stderr log, for assertion messages."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        async with asyncio.timeout(10):
            await self.proc.wait()

    async def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(timeout):
                await self.proc.wait()
        return int(self.proc.returncode or 0)
