"""The miner host: one async Ray actor serving many miners from one process.

An actor per miner would cost a Ray worker process (~80 MiB) per miner; a host holds hundreds of
``MinerServer``s on one event loop, each a real gRPC server on its own port, as the processes
backend's workers do. Every method is ``async``, so Ray runs them all on the actor's one event
loop: the servers are created inside that running loop (grpc.aio binds a server to the loop it
starts on) and keep serving between calls. They bind to the node's own address, which on a
cluster kept on 127.0.0.1 (see :mod:`.session`) is loopback.

``start_*`` report each miner's endpoint back, with the node it runs on; ``usage`` reports what
the host costs (resident memory and CPU seconds, from the kernel's own counters); ``stop`` stops
every server. The class is plain Python: :mod:`.placement` wraps it with ``ray.remote``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

from subnetkit.core.keys import Signer


def rss_bytes() -> int:
    """This process's resident memory now (Linux's /proc; the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def node_identity() -> dict[str, Any]:
    """Where this actor runs: the Ray node's id and address, and the process id."""
    import ray

    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "pid": os.getpid(),
    }


class MinerHost:
    """Many miners in one actor process (see the module docstring)."""

    def __init__(self) -> None:
        self._servers: list[Any] = []
        self._closed_ports: list[socket.socket] = []
        self._rss_base = rss_bytes()  # set again once the miner code is imported
        self._cpu_mark = cpu_seconds()
        self._wall_mark = time.perf_counter()

    async def start_swarm(self, subnet: str, variant: str | None, count: int) -> dict[str, Any]:
        """``count`` miners of the subnet's own Miner with fresh keys: ``{"miners": [[hotkey,
        host, port]...], node_id, ip, pid}``."""
        from subnetkit.loadtest.targets import build_miner

        build_miner(subnet, variant)  # imports the subnet's code before the baseline
        self._baseline()
        miners = [(build_miner(subnet, variant), Signer.generate()) for _ in range(count)]
        return await self._serve(miners)

    async def start_behaviours(self, job: dict[str, Any]) -> dict[str, Any]:
        """A simulation's miners, by hotkey seed and behaviour (see :mod:`.simulation`); an
        ``offline`` one gets an endpoint that refuses connections, as a dead miner's does."""
        from subnetkit.raybackend.simulation import build_host_miners

        build_host_miners({**job, "miners": []})  # imports the subnet's code
        self._baseline()
        return await self._serve(build_host_miners(job))

    def _baseline(self) -> None:
        """The memory of this host with its code loaded but no miners yet (the first call)."""
        if not self._servers and not self._closed_ports:
            import subnetkit.miner  # noqa: F401  (gRPC and the miner pipeline, loaded once)

            self._rss_base = rss_bytes()

    async def _serve(self, miners: list[tuple[Any, Signer | None]]) -> dict[str, Any]:
        from subnetkit.miner import MinerServer

        where = node_identity()
        host = where["ip"]
        entries: list[tuple[Any, int]] = []  # (server, 0) or (None, a refusing port)
        for miner, signer in miners:
            if signer is None:
                entries.append((None, self._refusing_port(host)))
            else:
                entries.append((MinerServer(miner, signer, host=host), 0))
        fresh = [server for server, _ in entries if server is not None]
        self._servers.extend(fresh)
        await asyncio.gather(*(s.start() for s in fresh))
        endpoints = [
            [None, host, port] if server is None else [server.hotkey, host, server.port]
            for server, port in entries
        ]
        return {**where, "miners": endpoints}

    def _refusing_port(self, host: str) -> int:
        """A port bound but never listened on: connecting gets a refusal at once, and no
        other process can take the port while this host holds it."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((host, 0))
        self._closed_ports.append(sock)
        return int(sock.getsockname()[1])

    async def mark(self) -> None:
        """Start the CPU and wall clocks that :meth:`usage` reads (call it before the load)."""
        self._cpu_mark, self._wall_mark = cpu_seconds(), time.perf_counter()

    async def usage(self) -> dict[str, Any]:
        """Memory now and before the miners (code loaded), CPU and wall seconds since
        :meth:`mark`."""
        return {
            **node_identity(),
            "miners": len(self._servers) + len(self._closed_ports),
            "rss_bytes": rss_bytes(),
            "rss_base_bytes": self._rss_base,
            "cpu_s": round(cpu_seconds() - self._cpu_mark, 4),
            "wall_s": round(time.perf_counter() - self._wall_mark, 4),
        }

    async def stop(self, grace: float = 0.0) -> None:
        await asyncio.gather(*(s.stop(grace) for s in self._servers), return_exceptions=True)
        self._servers.clear()
        for sock in self._closed_ports:
            with contextlib.suppress(OSError):
                sock.close()
        self._closed_ports.clear()


__all__ = ["MinerHost", "cpu_seconds", "node_identity", "rss_bytes"]
