"""Bounded waits for tests: a condition, a port, a ready file. Never an unbounded loop.

Tests must not sleep for a fixed time and hope: they poll for the state they need, with a
deadline that turns a hang into a failure saying what never happened.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How often the waits poll; short enough that a test never waits noticeably longer than needed.
POLL_S = 0.005


async def eventually(
    predicate: Callable[[], object], timeout: float = 5.0, *, interval: float = POLL_S
) -> None:
    """Return once ``predicate()`` is truthy, yielding to the event loop between checks.

    For conditions another component makes true (a counter, a queue depth). TimeoutError after
    ``timeout`` seconds names the predicate.
    """
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - the condition lives in another component
                await asyncio.sleep(interval)
    except TimeoutError:
        name = getattr(predicate, "__qualname__", repr(predicate))
        raise TimeoutError(f"{name} still false after {timeout} s") from None


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


async def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Return once ``host:port`` accepts a TCP connection (loopback servers in tests)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if await asyncio.to_thread(_accepts, host, port):
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        message = f"nothing accepted connections on {host}:{port} in {timeout} s"
        raise TimeoutError(message) from None


async def wait_for_ready_file(
    path: Path,
    timeout: float = 30.0,
    *,
    process: asyncio.subprocess.Process | None = None,
) -> dict[str, Any]:
    """The JSON a process writes to ``--ready-file`` once it is up (written atomically).

    With ``process``, its early exit fails the wait at once instead of at the deadline.
    """
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(path.exists):
                if process is not None and process.returncode is not None:
                    raise RuntimeError(f"process exited {process.returncode} before {path}")
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(f"{path} did not appear within {timeout} s") from None
    doc: dict[str, Any] = json.loads(await asyncio.to_thread(path.read_text))
    return doc


__all__ = ["eventually", "wait_for_port", "wait_for_ready_file"]
