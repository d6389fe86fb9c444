"""``ChainService``: the chain node behind a grpc.aio server, producing blocks on a timer or on
request.

Use it in tests and localnet as an async context manager::

    async with ChainService(tmp_path, manual=True) as chain:
        async with ChainClient(chain.address) as client:
            ...
            await chain.produce_block()

Modes: timed (default; one block every ``block_time`` seconds), ``manual=True`` (blocks only on
:meth:`produce_block` / the ProduceBlocks RPC, so tests never sleep), and ``manual=True,
automine=True`` (a block is produced as soon as extrinsics arrive; concurrent submissions share
a block). The server also serves gRPC health (``subnetkit.chain.v1.Chain`` and ``""``) and
reflection.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from subnetkit.chain.genesis import GenesisConfig
from subnetkit.chain.handlers import add_chain_servicer
from subnetkit.chain.mempool import PoolLimits
from subnetkit.chain.node import ChainNode
from subnetkit.chain.servicer import ChainServicer
from subnetkit.core.errors import ChainError, ConfigError
from subnetkit.core.lifecycle import Lifecycle
from subnetkit.protos.chain.v1 import chain_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Chain"].full_name
MAX_MESSAGE = 64 * 1024 * 1024


def _bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, as a hint saying what to change; None if it can.

    gRPC only says "Failed to bind" (and logs a line of its own), so the address is tried here
    first, with the SO_REUSEADDR gRPC also sets: a port in TIME_WAIT passes, a listening one
    does not.
    """
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot resolve --host {host!r} ({exc.strerror}); use an IP such as 127.0.0.1"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            where = f"{host}:{port}"
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another chain?); choose another "
                    "--port, or --port 0 for a free one"
                )
            if exc.errno == errno.EACCES:
                return f"no permission to listen on {where}; use a --port above 1023"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine; use --host 127.0.0.1"
            return f"cannot listen on {where} ({exc.strerror}); change --host or --port"
    return None


def _import_epoch_code() -> None:
    """Import torch and the epoch now, so the first epoch block does not pay for it."""
    import subnetkit.chain.epoch
    import subnetkit.chain.transition.epoch_io  # noqa: F401


class ChainService(Lifecycle):
    """The chain service (see the module docstring). ``port=0`` binds a free port; read
    :attr:`port` after start."""

    graceful_shutdown_timeout = 5.0

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        block_time: float | None = None,
        dev: bool = True,
        manual: bool = False,
        *,
        automine: bool = False,
        host: str = "127.0.0.1",
        genesis: GenesisConfig | None = None,
        keep_blocks: int = 256,
        durable: bool = False,
        reflection: bool = True,
        pool_limits: PoolLimits | None = None,
    ) -> None:
        super().__init__()
        self.node = ChainNode(
            data_dir,
            genesis=genesis,
            dev=dev,
            keep_blocks=keep_blocks,
            durable=durable,
            pool_limits=pool_limits,
        )
        self.block_time = block_time if block_time is not None else (0.25 if dev else 12.0)
        if self.block_time <= 0:
            raise ValueError("block_time must be > 0 seconds")
        if not 0 <= port <= 65535:
            raise ConfigError(f"port {port} is not a TCP port; use 1-65535, or 0 for a free one")
        self.manual = manual
        self.automine = automine
        self.host = host
        self._want_port = port
        self._reflection = reflection
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._automining: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def head(self) -> pb.BlockHeader:
        return self.node.head

    async def start(self) -> None:
        await super().start()
        try:
            await self._start_serving()
        except BaseException:
            # Whatever failed (a taken port, a corrupt store, ...): release what was opened, or
            # the store's aiosqlite thread keeps the process alive after the error is printed.
            await self.close()
            raise

    async def _start_serving(self) -> None:
        await self.node.open()
        # Before serving, not in the background after it: a chain that says it is ready has
        # nothing left to do but answer, and code it cannot import fails the start with the
        # error (it used to stop an already-ready chain, whose clients then saw only deadlines).
        await asyncio.to_thread(_import_epoch_code)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
            ]
        )
        servicer = ChainServicer(
            self.node, manual=self.manual, block_time=self.block_time, produce=self.produce_blocks
        )
        add_chain_servicer(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if self._reflection:
            reflection.enable_server_reflection(
                (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
            )
        self.port = self._bind(server)
        self._server = server
        await server.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if not self.manual:
            self.spawn(self._tick(), name="chain-blocks")
        elif self.automine:
            self.node.on_submitted = self._kick
        log.info(
            "chain serving on %s (head %d, %s)",
            self.address,
            self.node.head.number,
            "manual" if self.manual else f"{self.block_time}s blocks",
        )

    def _bind(self, server: grpc.aio.Server) -> int:
        problem = _bind_problem(self.host, self._want_port)
        if problem is not None:
            raise ConfigError(problem)
        address = f"{self.host}:{self._want_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:  # lost a race for the port since the check
            raise ConfigError(
                f"cannot listen on {address} ({exc}); choose another --port"
            ) from None
        if port == 0:
            raise ConfigError(f"cannot listen on {address}; choose another --port or --host")
        return port

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await self._health.enter_graceful_shutdown()
            await server.stop(1.0)
        await self.node.close()

    # -- block production ------------------------------------------------------------------------
    async def produce_block(self) -> pb.Block:
        """Produce the next block now (any mode); returns it after it is committed."""
        return await self.node.produce_block()

    async def produce_blocks(self, count: int) -> list[pb.Block]:
        return [await self.node.produce_block() for _ in range(count)]

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.block_time
        while not self.stopping:
            if await self.wait_stopped(max(due - loop.time(), 0.0)):
                return
            if await self._produce_or_stop() is None:
                return
            due += self.block_time
            if due < loop.time():  # fell behind (slow block): do not burst to catch up
                due = loop.time() + self.block_time

    async def _produce_or_stop(self) -> pb.Block | None:
        """The next block; ``None`` (and the service stopping) once a storage fault halted the
        node, which has already said so in one line: no second report with a traceback."""
        try:
            return await self.node.produce_block()
        except ChainError as exc:
            if self.node.halted is not exc:
                raise
            if self.fatal_error is None:
                self.fatal_error = exc
            self.request_stop()
            return None

    def _kick(self) -> None:
        if self._automining is None or self._automining.done():
            self._automining = self.spawn(self._automine(), name="chain-automine")

    async def _automine(self) -> None:
        while not self.stopping and len(self.node.pool):
            await asyncio.sleep(0)  # let concurrent submissions join this block
            block = await self._produce_or_stop()
            if block is None or not block.extrinsic_hashes:
                return  # only nonce gaps left: wait for the missing extrinsics
