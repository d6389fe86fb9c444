"""The lifecycle every long-lived component shares: ``async with``, ``run()``, ``shutdown()``.

Modelled on the shape of Temporal's worker: a component starts its resources in ``start()``,
does its work in ``run()`` until asked to stop, and releases everything in ``shutdown()`` within a
grace period. ``run_until_signalled`` is what CLI entry points call: SIGTERM and SIGINT trigger a
graceful shutdown instead of a traceback, and a fatal error in a background task stops the
component rather than leaving it half-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)


class Lifecycle:
    """Base for neurons and services: start/run/shutdown with a stop event and background tasks."""

    #: Seconds ``shutdown`` waits for in-flight work before cancelling it.
    graceful_shutdown_timeout: float = 5.0

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self.fatal_error: BaseException | None = None

    # -- to override -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Acquire resources (servers, connections). Called once by ``__aenter__``."""
        self._started = True

    async def run(self) -> None:
        """Do the work until :meth:`request_stop` is called. Default: wait for the stop event."""
        await self._stop.wait()

    async def close(self) -> None:
        """Release resources. Called once by :meth:`shutdown` after background tasks end."""

    # -- machinery -------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask ``run()`` to return; safe to call from a signal handler or any task."""
        self._stop.set()

    async def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait for a stop request; True if one came within ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True

    def spawn(self, coro: Awaitable[None], *, name: str) -> asyncio.Task[None]:
        """Run ``coro`` in the background; if it fails, record the error and stop the component."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self.fatal_error is None:
            self.fatal_error = exc
            log.error("background task %s failed: %r; stopping", task.get_name(), exc)
            self.request_stop()

    async def shutdown(self) -> None:
        """Stop background tasks (cancelling after the grace period) and close resources."""
        if self._closed:
            return
        self._closed = True
        self.request_stop()
        if self._tasks:
            _, pending = await asyncio.wait(
                list(self._tasks), timeout=self.graceful_shutdown_timeout
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()


async def run_until_signalled(
    component: Lifecycle, *, on_ready: Callable[[], None] | None = None
) -> None:
    """Start ``component``, run it until SIGTERM/SIGINT or its own stop, then shut it down.

    Re-raises the component's fatal background error, if any, after a clean shutdown.
    """
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, component.request_stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / Windows
            pass
    try:
        async with component:
            if on_ready is not None:
                on_ready()
            run_task = asyncio.ensure_future(component.run())
            stop_task = asyncio.ensure_future(component.wait_stopped())
            done, _ = await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            if run_task not in done:
                run_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run_task
            else:
                run_task.result()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    if component.fatal_error is not None:
        raise component.fatal_error


def install_event_loop_policy() -> None:
    """Use uvloop when it is installed (CLI entry points call this; libraries never do)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
