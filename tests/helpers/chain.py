"""A chain as a child process, for tests whose claim is about processes.

``ChainProcess`` runs ``subnetkit chain start --port 0 --ready-file F`` and reads its port from
the ready file. The in-process chain (``running_chain``, the ``chain`` fixture) is
:mod:`subnetkit.testing`, the same one subnet authors use.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from subnetkit.testing import wait_for_ready_file


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
        try:
            doc = await wait_for_ready_file(self.ready, timeout, process=self.proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log_tail()}") from None
        self.port = int(doc["port"])
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
