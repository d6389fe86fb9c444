"""Fixtures for miner tests: dev keys (the scripted miners live in tests/miner/fakes.py)."""

from __future__ import annotations

import pytest

from subnetkit.core.keys import Signer, dev_signer


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
