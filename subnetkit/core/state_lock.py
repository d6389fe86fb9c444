"""One neuron per state directory: an exclusive lock that names its holder.

Two neurons on one state directory would overwrite each other's files (scores, the TLS key) and,
for a miner, fight over one endpoint on chain. The lock is ``flock`` on ``neuron.lock`` in the
directory: the kernel releases it when the holding process exits, however it exits (kill -9
included), so a lock is never left stale; a lock's open file description is its own, so a second
neuron in the *same* process is refused too. The file holds the holder's pid, role and hotkey,
so the refusal can say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from subnetkit.core.errors import ConfigError

LOCK_NAME = "neuron.lock"


class StateDirLock:
    """Held from :meth:`acquire` to :meth:`release` (or the process's exit)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, holder: dict[str, Any]) -> None:
        """Take the lock and record ``holder``; ConfigError naming the holder if it is taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"state directory {self.path.parent} is in use by {describe(self.path)}: stop "
                "that neuron first, or give this one another --state-dir / wallet hotkey"
            ) from None
        doc = json.dumps({"pid": os.getpid(), **holder}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, doc, 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next neuron in (the file stays; only the lock matters)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def describe(path: Path) -> str:
    """Who holds the lock at ``path``, as the holder wrote it ("another neuron" if unknown)."""
    try:
        doc = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc, dict) or "pid" not in doc:
        return "another neuron"
    parts = [f"{doc.get('role', 'neuron')} pid {doc['pid']}"]
    if doc.get("hotkey"):
        parts.append(f"hotkey {doc['hotkey']}")
    return " ".join(parts)
