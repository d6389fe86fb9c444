"""A real chain for CLI tests, on its own event loop in a background thread.

CLI commands are synchronous and call ``asyncio.run`` themselves, so they cannot run on a test's
event loop; the chain (``tests.helpers.chain.running_chain``: port 0, temp SQLite, manual blocks
with automine) runs in a thread instead and tests stay plain functions. One chain serves the
whole directory; each test makes its own subnet and keys so tests do not see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from subnetkit.chain.client import ChainClient
from subnetkit.cli import main
from subnetkit.testing import ChainHarness, running_chain

T = TypeVar("T")
START_TIMEOUT = 60.0


class ThreadedChain:
    """``running_chain`` in a daemon thread; :meth:`call` runs a coroutine on its loop."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        self.data_dir = data_dir
        #: more ``running_chain`` arguments (a ``genesis``, say)
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.harness: ChainHarness | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="cli-test-chain", daemon=True)

    @property
    def address(self) -> str:
        assert self.harness is not None
        return self.harness.service.address

    def start(self) -> ThreadedChain:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"chain did not start within {START_TIMEOUT}s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with running_chain(self.data_dir, **self.options) as harness:
            self.harness = harness
            self._ready.set()
            await self._stop.wait()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def fresh(self, work: Callable[[ChainHarness], Awaitable[T]], timeout: float = 30.0) -> T:
        """``work`` with a harness on a client of its own, closed after. A client caches each
        signer's next nonce; the CLI signs with clients of its own, so a test that signs with a
        dev key the CLI also uses does it here, where nonces are read from the chain, and leaves
        the shared ``harness.client``'s cache as it was."""
        assert self.harness is not None
        service = self.harness.service

        async def run() -> T:
            async with ChainClient(self.address, timeout=10.0) as client:
                return await work(ChainHarness(service, client))

        return self.call(run(), timeout)

    def stop(self) -> None:
        if self._stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@contextlib.contextmanager
def dev_chain(
    tmp_path_factory: pytest.TempPathFactory, name: str, **genesis_options: Any
) -> Iterator[ThreadedChain]:
    """A chain of its own on a dev genesis with ``genesis_options`` (``delegation=True``...),
    for tests that need a genesis the shared ``chain`` does not have."""
    from subnetkit.chain.genesis import dev_genesis

    path = tmp_path_factory.mktemp(name) / "chain"
    threaded = ThreadedChain(path, genesis=dev_genesis(**genesis_options)).start()
    try:
        yield threaded
    finally:
        threaded.stop()


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedChain]:
    threaded = ThreadedChain(tmp_path_factory.mktemp("cli-chain") / "chain").start()
    yield threaded
    threaded.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``subnetkit ...`` in-process through ``main()`` against the test chain."""

    def __init__(self, chain: ThreadedChain, capsys: pytest.CaptureFixture[str]) -> None:
        self.chain = chain
        self.capsys = capsys

    def __call__(self, *args: str, endpoint: bool = True) -> Result:
        argv = ["--log-level", "WARNING", *args]
        if endpoint:
            argv += ["--chain-endpoint", self.chain.address]
        self.capsys.readouterr()
        code = main(argv)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(chain: ThreadedChain, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(chain, capsys)
