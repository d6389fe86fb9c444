"""pytest fixtures for a subnet's tests: ``pytest_plugins = ["subnetkit.testing.fixtures"]``.

* ``chain``: a fresh in-process chain per test (:func:`subnetkit.testing.running_chain`);
* ``alice``, ``bob``, ``charlie``, ``eve``: the dev keys (Alice is the chain's sudo key).

Async fixtures run under pytest-asyncio (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from subnetkit.core.keys import Signer, dev_signer
from subnetkit.testing.chain import ChainHarness, running_chain


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[ChainHarness]:
    """A real chain on 127.0.0.1:0 with SQLite under ``tmp_path``; blocks only when asked."""
    async with running_chain(tmp_path / "chain") as harness:
        yield harness


@pytest.fixture(scope="session")
def alice() -> Signer:
    return dev_signer("alice")


@pytest.fixture(scope="session")
def bob() -> Signer:
    return dev_signer("bob")


@pytest.fixture(scope="session")
def charlie() -> Signer:
    return dev_signer("charlie")


@pytest.fixture(scope="session")
def eve() -> Signer:
    return dev_signer("eve")
