"""One chain per data directory: an exclusive ``flock`` on ``<data dir>/LOCK``.

Two chains writing one SQLite file would each build blocks on their own in-memory state and
interleave them on disk. The lock is taken before the database is opened and held for the life
of the node; the kernel releases it when the process dies (``kill -9`` included), so a stale
file never blocks a restart. The file says who holds it, so the refusal can name the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import time
from pathlib import Path

from subnetkit.chain.errors import chain_error
from subnetkit.core.errors import ConfigError

LOCK_NAME = "LOCK"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``data_dir_locked`` naming the holder."""
        data_dir = self.path.parent
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            why = "it is a file" if data_dir.is_file() else (exc.strerror or str(exc))
            raise ConfigError(
                f"cannot use {data_dir} as the chain's data dir ({why}); pass a --data-dir "
                "that is, or can be created as, a writable directory"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise chain_error(
                "data_dir_locked",
                f"{self.path.parent} is in use by another chain ({holder}); stop that chain "
                "or pass another --data-dir",
            ) from None
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        argv = " ".join(sys.argv)[:200]
        who = f"pid {os.getpid()} on {socket.gethostname()} since {started}: {argv}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, who.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
