"""The shared lifecycle: background failures stop the component; SIGTERM shuts down cleanly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest

from subnetkit.core.lifecycle import Lifecycle, run_until_signalled


class Recorder(Lifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def start(self) -> None:
        await super().start()
        self.events.append("start")

    async def close(self) -> None:
        self.events.append("close")


async def test_failed_background_task_stops_and_reraises() -> None:
    comp = Recorder()

    async def boom() -> None:
        raise RuntimeError("disk full")

    async def scenario() -> None:
        async def run() -> None:
            comp.spawn(boom(), name="boom")
            await comp.wait_stopped()

        comp.run = run  # type: ignore[method-assign]
        await run_until_signalled(comp)

    with pytest.raises(RuntimeError, match="disk full"):
        async with asyncio.timeout(5):
            await scenario()
    assert comp.events == ["start", "close"]


async def test_shutdown_cancels_tasks_past_grace() -> None:
    comp = Recorder()
    comp.graceful_shutdown_timeout = 0.05
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with asyncio.timeout(5):
        async with comp:
            comp.spawn(forever(), name="forever")
            await asyncio.sleep(0)
    assert cancelled.is_set()
    assert comp.events == ["start", "close"]


def test_sigterm_shuts_a_real_process_down_cleanly() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from subnetkit.core.lifecycle import Lifecycle, run_until_signalled

        class C(Lifecycle):
            async def close(self):
                print("closed", flush=True)

        asyncio.run(run_until_signalled(C(), on_ready=lambda: print("ready", flush=True)))
        print("exited", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.split() == ["closed", "exited"]
    assert "Traceback" not in err
