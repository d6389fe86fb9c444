"""``Supervisor``: starts the local network's processes and makes sure none outlives it.

Each child runs in its own session (so its own process group): a Ctrl-C in the terminal reaches
only the localnet process, which then stops the children in order instead of every process
tearing itself down at once. Stopping sends SIGTERM to the child's whole group, waits a grace
period, then sends SIGKILL, so a child that ignores SIGTERM or forked helpers of its own cannot
linger. An ``atexit`` hook does the same synchronously if the event loop never got to it (an
exception, ``sys.exit`` from elsewhere).

Every child's stderr goes to ``<data_dir>/logs/<name>.log``; when a child dies early its last
lines are what the user sees. The pids of live children are kept in ``<data_dir>/run/pids.json``
so tools and tests can find them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from subnetkit.core.errors import SubnetkitError

log = logging.getLogger(__name__)

#: seconds a child gets between SIGTERM and SIGKILL
DEFAULT_GRACE = 10.0
#: how many stderr lines of a dead child are shown
TAIL_LINES = 15


class LocalnetError(SubnetkitError):
    """The local network could not start or a process in it failed."""

    code = "localnet"
    exit_code = 8


class LocalnetInterrupted(LocalnetError):
    """Stopped by a signal before the network was up (nothing to summarise)."""

    code = "interrupted"
    exit_code = 130


class ChildDied(LocalnetError):
    """A supervised process exited while the network was meant to be running."""

    code = "child_died"

    def __init__(self, child: Child) -> None:
        tail = child.stderr_tail()
        shown = "\n".join(f"    {line}" for line in tail) if tail else "    (no output)"
        super().__init__(
            f"{child.name} exited with code {child.returncode} (log: {child.log_path}); "
            f"its last lines:\n{shown}"
        )
        self.child = child


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    log_path: Path
    ready_path: Path | None
    proc: asyncio.subprocess.Process
    started_at: float = field(default_factory=time.monotonic)
    ready: dict[str, Any] | None = None

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def stderr_tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The last ``lines`` non-empty lines the child wrote to stderr."""
        try:
            with self.log_path.open("r", errors="replace") as handle:
                tail: deque[str] = deque(maxlen=lines)
                for line in handle:
                    if line.strip():
                        tail.append(line.rstrip())
                return list(tail)
        except OSError:
            return []


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the localnet process dies, even by SIGKILL.

    Children run in their own sessions (so a terminal's Ctrl-C reaches only the supervisor,
    which stops them in order); this Linux prctl makes sure none outlives a killed supervisor.
    Elsewhere it does nothing and the atexit guard and pids.json remain.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _signal_group(pid: int, sig: int) -> bool:
    """Signal the process group led by ``pid``; False if it is already gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - group id reused by another user's process
        return False
    return True


class Supervisor:
    """Start, watch and stop the processes of one local network (see the module docstring)."""

    def __init__(self, data_dir: Path, *, grace: float = DEFAULT_GRACE) -> None:
        self.data_dir = Path(data_dir)
        self.log_dir = self.data_dir / "logs"
        self.run_dir = self.data_dir / "run"
        self.grace = grace
        self.children: list[Child] = []
        self._stopping = False
        self._atexit_registered = False

    # -- starting ----------------------------------------------------------------------------------
    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready_file: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        """Start ``argv`` as ``name`` in its own process group. With ``ready_file``, the path
        ``<data_dir>/run/<name>.ready.json`` is appended as ``--ready-file`` and
        :meth:`wait_ready` waits for it."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if any(c.name == name for c in self.children):
            raise ValueError(f"a child named {name!r} already exists")
        cmd = list(argv)
        ready_path = None
        if ready_file:
            ready_path = self.run_dir / f"{name}.ready.json"
            ready_path.unlink(missing_ok=True)
            cmd += ["--ready-file", str(ready_path)]
        log_path = self.log_dir / f"{name}.log"
        child_env = dict(os.environ)
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        if env:
            child_env.update(env)
        if not self._atexit_registered:
            atexit.register(self.kill_all_now)
            self._atexit_registered = True
        with log_path.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=child_env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, cmd, log_path, ready_path, proc)
        self.children.append(child)
        self._write_pids()
        log.debug("started %s (pid %d): %s", name, child.pid, " ".join(cmd))
        return child

    async def wait_ready(self, child: Child, timeout: float) -> dict[str, Any]:
        """Wait (bounded) for ``child``'s ready file; its JSON content is returned. Raises
        :class:`ChildDied` if the child exits first, :class:`LocalnetError` on timeout."""
        if child.ready_path is None:
            raise ValueError(f"{child.name} was started without a ready file")
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if not child.alive:
                        raise ChildDied(child)
                    doc = _read_json(child.ready_path)
                    if doc is not None:
                        child.ready = doc
                        self._write_pids()
                        return doc
                    await asyncio.sleep(0.05)
        except TimeoutError:
            tail = "; ".join(child.stderr_tail(3)) or "no output"
            raise LocalnetError(
                f"{child.name} was not ready within {timeout:.0f}s (last output: {tail}); "
                f"see {child.log_path}"
            ) from None

    async def wait_all_ready(self, children: Sequence[Child], timeout: float) -> None:
        """Wait for several children at once; the first failure cancels the rest."""
        waits = [asyncio.ensure_future(self.wait_ready(c, timeout)) for c in children]
        try:
            await asyncio.gather(*waits)
        finally:
            for task in waits:
                task.cancel()

    # -- watching ----------------------------------------------------------------------------------
    async def watch(self) -> None:
        """Wait while every child lives; raise :class:`ChildDied` for the first one that exits
        while the supervisor is not stopping (returns once stopping has begun)."""
        while not self._stopping:
            for child in self.children:
                if not child.alive:
                    raise ChildDied(child)
            if not self.children:
                await asyncio.sleep(0.5)
                continue
            waits = [asyncio.ensure_future(c.proc.wait()) for c in self.children]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()

    # -- stopping ----------------------------------------------------------------------------------
    async def stop(self, names_last: Sequence[str] = ()) -> None:
        """SIGTERM every child's group (those named in ``names_last`` after the others have
        exited), SIGKILL whatever is left after the grace period, and reap them all."""
        self._stopping = True
        first = [c for c in self.children if c.name not in names_last]
        last = [c for c in self.children if c.name in names_last]
        for batch in (first, last):
            await self._stop_batch(batch)
        self._write_pids()

    async def _stop_batch(self, batch: Sequence[Child]) -> None:
        if not batch:
            return
        for child in batch:
            if child.alive:
                _signal_group(child.pid, signal.SIGTERM)
        waits = [asyncio.ensure_future(c.proc.wait()) for c in batch]
        _, pending = await asyncio.wait(waits, timeout=self.grace)
        for child in batch:
            # the leader may be gone while helpers it forked live on: kill the group regardless
            if _signal_group(child.pid, signal.SIGKILL) and child.alive:
                log.warning("%s did not stop within %.0fs; killed", child.name, self.grace)
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        for task in pending:
            task.cancel()

    def kill_all_now(self) -> None:
        """Synchronous last resort (atexit): SIGTERM, a short wait, then SIGKILL every group."""
        live = [c for c in self.children if c.alive]
        if not live:
            return
        for child in live:
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + min(self.grace, 3.0)
        while time.monotonic() < deadline and any(_pid_exists(c.pid) for c in live):
            time.sleep(0.05)
        for child in live:
            _signal_group(child.pid, signal.SIGKILL)

    def _write_pids(self) -> None:
        doc = {
            c.name: {"pid": c.pid, "alive": c.alive, "ready": c.ready is not None}
            for c in self.children
        }
        tmp = self.run_dir / "pids.json.tmp"
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(doc, indent=1))
            tmp.replace(self.run_dir / "pids.json")


def _pid_exists(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie is dead, merely unreaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc (not Linux): fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None while it is absent or still being written."""
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None
