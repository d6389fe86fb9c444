"""A fresh chain per test: real service on 127.0.0.1:0, temp SQLite, manual blocks + automine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.chain import ChainHarness, running_chain


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[ChainHarness]:
    async with running_chain(tmp_path / "chain") as harness:
        yield harness
