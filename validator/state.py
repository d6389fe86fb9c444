"""A validator's durable state files: crash-safe JSON, and the commit-reveal salts.

Everything a validator must not lose across a restart lives in small JSON files in its state
directory. Each write goes to a temp file in the same directory, is fsynced, then atomically
``os.replace``d over the old file (and the directory is fsynced), so a crash at any instant
leaves either the old file or the new one, never a torn mix. A crash between the write and the
replace leaves a stray ``.<name>.*.tmp`` file, which the next load ignores and removes.

Commit-reveal needs this most: a validator that commits a weight hash and then restarts must
still hold the salt and the exact weights to reveal them, or the commit is wasted and the
validator misses an epoch. :class:`CommitStore` writes each pending commit *before* the commit
extrinsic is sent (write-ahead), so a commit the chain accepted is always revealable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from subnetkit.core.errors import ConfigError

log = logging.getLogger(__name__)


class StateFileError(ConfigError):
    """A state file exists but cannot be used (unreadable, not JSON, or another format)."""

    code = "state_file"


# --- crash-safe JSON ------------------------------------------------------------------------


def _temp_glob(path: Path) -> str:
    return f".{path.name}.*.tmp"


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself: without this a power cut can forget the os.replace."""
    with contextlib.suppress(OSError):  # some filesystems refuse O_RDONLY on directories
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` so that readers only ever see a whole file.

    temp file in the same directory -> write -> fsync -> os.replace -> fsync(directory).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files a crashed writer left beside ``path``; returns what was removed."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for stale in path.parent.glob(_temp_glob(path)):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed.append(stale)
    if removed:
        log.warning("removed %d interrupted write(s) of %s", len(removed), path)
    return removed


def read_json(path: Path, *, expected_format: str) -> dict[str, Any] | None:
    """Read a state file written by :func:`atomic_write_json`; ``None`` if there is none yet.

    The document must carry ``"format": expected_format``. A file that exists but is not such a
    document raises :class:`StateFileError` naming the file and what to do, instead of silently
    starting from scratch (which would throw away a validator's history without a word).
    """
    path = Path(path)
    remove_stale_temps(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"cannot read state file {path}: {exc.strerror}") from exc
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateFileError(
            f"state file {path} is not valid JSON ({exc}); move it aside to start fresh"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != expected_format:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise StateFileError(
            f"state file {path} holds {found!r}, expected {expected_format!r}; "
            "point the validator at its own state directory or move the file aside"
        )
    return doc


# --- commit-reveal salts --------------------------------------------------------------------


def new_salt(length: int = 16) -> bytes:
    """A fresh random salt of ``length`` bytes (the chain's commit hash takes the salt as bytes,
    see ``chain.commit_reveal.commit_hash``)."""
    if not 1 <= length <= 0xFFFF:
        raise ConfigError(f"salt length must be between 1 and 65535 bytes, got {length}")
    return secrets.token_bytes(length)


@dataclass(frozen=True, slots=True)
class PendingCommit:
    """A weight commit sent (or about to be sent) to the chain and not yet revealed.

    ``uids``/``weights`` are exactly the values hashed into the commit (the u16 weights after
    processing), so the reveal reproduces the hash. ``commit_hash`` is its hex form (the store's
    key); ``salt`` is stored as hex in the file. ``reveal_block`` is the first block at which
    the chain accepts the reveal. Build one with :meth:`create`, which hashes exactly as the
    chain checks a reveal.
    """

    netuid: int
    hotkey: str
    commit_hash: str
    uids: tuple[int, ...]
    weights: tuple[int, ...]
    salt: bytes
    version_key: int
    commit_block: int
    reveal_block: int

    def __post_init__(self) -> None:
        if len(self.uids) != len(self.weights):
            raise ConfigError(
                f"commit has {len(self.uids)} uids but {len(self.weights)} weights; "
                "they must pair up one to one"
            )
        if not self.salt:
            raise ConfigError("commit has an empty salt: use new_salt()")

    @classmethod
    def create(
        cls,
        *,
        hotkey: str,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        version_key: int,
        commit_block: int,
        reveal_block: int,
        salt: bytes | None = None,
    ) -> PendingCommit:
        """A commit of processed u16 ``weights`` with a fresh salt and the chain's hash."""
        from subnetkit.chain.commit_reveal import commit_hash

        salt = salt if salt is not None else new_salt()
        digest = commit_hash(hotkey, netuid, uids, weights, salt, version_key)
        return cls(
            netuid=netuid,
            hotkey=hotkey,
            commit_hash=digest.hex(),
            uids=tuple(int(u) for u in uids),
            weights=tuple(int(w) for w in weights),
            salt=salt,
            version_key=version_key,
            commit_block=commit_block,
            reveal_block=reveal_block,
        )

    def matches_hash(self) -> bool:
        """Whether the stored values still reproduce ``commit_hash`` (a reveal would pass)."""
        from subnetkit.chain.commit_reveal import commit_hash

        digest = commit_hash(
            self.hotkey, self.netuid, self.uids, self.weights, self.salt, self.version_key
        )
        return digest.hex() == self.commit_hash

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["salt"] = self.salt.hex()
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PendingCommit:
        return cls(
            netuid=int(doc["netuid"]),
            hotkey=str(doc["hotkey"]),
            commit_hash=str(doc["commit_hash"]),
            uids=tuple(int(u) for u in doc["uids"]),
            weights=tuple(int(w) for w in doc["weights"]),
            salt=bytes.fromhex(doc["salt"]),
            version_key=int(doc["version_key"]),
            commit_block=int(doc["commit_block"]),
            reveal_block=int(doc["reveal_block"]),
        )


class CommitStore:
    """Pending weight commits, persisted on every change, keyed by commit hash.

    Mutations write the file before they return (``add`` before the commit extrinsic goes out,
    ``remove`` after the reveal is included). The async variants do the fsync on a worker
    thread so the event loop never waits on the disk.
    """

    FORMAT = "subnetkit.validator.commits/1"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._commits: dict[str, PendingCommit] = {}
        self._lock = asyncio.Lock()
        doc = read_json(self.path, expected_format=self.FORMAT)
        if doc is not None:
            try:
                for item in doc.get("commits", []):
                    commit = PendingCommit.from_json(item)
                    self._commits[commit.commit_hash] = commit
            except (KeyError, TypeError, ValueError) as exc:
                raise StateFileError(
                    f"state file {self.path} has a malformed commit ({exc!r}); move it aside"
                ) from exc

    def __len__(self) -> int:
        return len(self._commits)

    def __contains__(self, commit_hash: object) -> bool:
        return commit_hash in self._commits

    def pending(self, netuid: int | None = None) -> list[PendingCommit]:
        """Every unrevealed commit (of one subnet, if given), oldest first."""
        found = [c for c in self._commits.values() if netuid is None or c.netuid == netuid]
        return sorted(found, key=lambda c: (c.commit_block, c.commit_hash))

    def due(self, block: int, netuid: int | None = None) -> list[PendingCommit]:
        """Commits whose reveal window has opened by ``block``."""
        return [c for c in self.pending(netuid) if c.reveal_block <= block]

    def add(self, commit: PendingCommit) -> None:
        """Record a commit durably. Call BEFORE submitting the commit extrinsic."""
        self._commits[commit.commit_hash] = commit
        self.save()

    def remove(self, commit_hashes: Iterable[str] | str) -> int:
        """Forget revealed (or expired) commits; returns how many were removed."""
        hashes = [commit_hashes] if isinstance(commit_hashes, str) else list(commit_hashes)
        removed = sum(self._commits.pop(h, None) is not None for h in hashes)
        if removed:
            self.save()
        return removed

    async def aadd(self, commit: PendingCommit) -> None:
        """:meth:`add` with the disk write on a worker thread."""
        async with self._lock:
            self._commits[commit.commit_hash] = commit
            await asyncio.to_thread(atomic_write_json, self.path, self._document())

    async def aremove(self, commit_hashes: Iterable[str] | str) -> int:
        """:meth:`remove` with the disk write on a worker thread."""
        hashes = [commit_hashes] if isinstance(commit_hashes, str) else list(commit_hashes)
        async with self._lock:
            removed = sum(self._commits.pop(h, None) is not None for h in hashes)
            if removed:
                await asyncio.to_thread(atomic_write_json, self.path, self._document())
        return removed

    def save(self) -> None:
        atomic_write_json(self.path, self._document())

    def _document(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "commits": [c.to_json() for c in self.pending()]}


__all__ = [
    "CommitStore",
    "PendingCommit",
    "StateFileError",
    "atomic_write_json",
    "new_salt",
    "read_json",
    "remove_stale_temps",
]
