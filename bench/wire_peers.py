"""The two systems bench/wire.py compares, and the process their miners run in.

The baseline is a bare grpc.aio Echo server and client doing only the protocol's cryptography;
the other side is subnetkit's ``MinerServer`` (and, in bench/wire.py, its ``MinerClient``). Both
kinds of miner live in one spawned process, so client and miners each get a core.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

ECHO_PATH = "/subnets.echo.v1.Echo/Echo"


# -- event loop --------------------------------------------------------------------------------
def install_loop(kind: str) -> None:
    """Both systems and both processes run on the same loop kind, or the ratio means nothing."""
    if kind == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# -- the baseline: raw grpc.aio with the same signing and verification ----------------------------
def make_baseline_server(signer: Any) -> Any:
    """A bare grpc.aio Echo server doing only the protocol's crypto: (server, port)."""
    import grpc

    from subnetkit.core.keys import verify
    from subnetkit.subnets.echo import echo_pb2
    from subnetkit.wire import protocol

    async def echo(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        md = dict(context.invocation_metadata() or ())
        caller, nonce = md["sk-caller"], int(md["sk-nonce"])
        body_hash = protocol.sha256(body)
        message = protocol.request_message(
            version="1",
            method=ECHO_PATH,
            receiver=signer.ss58,
            body_hash=body_hash,
            nonce=nonce,
            caller_crypto="sr25519",
            caller=caller,
        )
        if not verify(caller, message, md["sk-signature-bin"]):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad signature")
        request = echo_pb2.EchoRequest.FromString(body)
        out = echo_pb2.EchoResponse(text=request.text, payload=request.payload).SerializeToString()
        signed = protocol.response_message(
            version="1",
            method=ECHO_PATH,
            caller=caller,
            request_hash=body_hash,
            nonce=nonce,
            response_hash=protocol.sha256(out),
            miner_crypto="sr25519",
            miner=signer.ss58,
        )
        context.set_trailing_metadata((("sk-response-signature-bin", signer.sign(signed)),))
        return out

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "subnets.echo.v1.Echo",
                {"Echo": grpc.unary_unary_rpc_method_handler(echo)},
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    return server, port


class BaselineClient:
    """One raw channel per endpoint; signs requests and verifies responses like the protocol."""

    def __init__(self, signer: Any) -> None:
        from subnetkit.wire.protocol import NonceClock

        self.signer = signer
        self.nonce = NonceClock()
        self.callables: dict[int, Any] = {}
        self.channels: list[Any] = []

    def callable_for(self, port: int) -> Any:
        """One channel and multicallable per port, reused like MinerClient's."""
        import grpc

        fn = self.callables.get(port)
        if fn is None:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            self.channels.append(channel)
            fn = self.callables[port] = channel.unary_unary(ECHO_PATH)
        return fn

    async def call(self, hotkey: str, port: int, body: bytes) -> bool:
        """Sign, send, verify the response signature and parse: True if it verified."""
        from subnetkit.core.keys import verify
        from subnetkit.subnets.echo import echo_pb2
        from subnetkit.wire import protocol

        nonce = self.nonce()
        body_hash = protocol.sha256(body)
        message = protocol.request_message(
            version="1",
            method=ECHO_PATH,
            receiver=hotkey,
            body_hash=body_hash,
            nonce=nonce,
            caller_crypto="sr25519",
            caller=self.signer.ss58,
        )
        metadata = (
            ("sk-caller", self.signer.ss58),
            ("sk-nonce", str(nonce)),
            ("sk-signature-bin", self.signer.sign(message)),
        )
        call = self.callable_for(port)(body, metadata=metadata, timeout=10)
        raw = await call
        trailer = dict(await call.trailing_metadata())
        signed = protocol.response_message(
            version="1",
            method=ECHO_PATH,
            caller=self.signer.ss58,
            request_hash=body_hash,
            nonce=nonce,
            response_hash=protocol.sha256(raw),
            miner_crypto="sr25519",
            miner=hotkey,
        )
        ok = verify(hotkey, signed, trailer["sk-response-signature-bin"])
        echo_pb2.EchoResponse.FromString(raw)
        return ok

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


# -- the miner process ----------------------------------------------------------------------------
def miner_process(conn: Connection, count: int, loop_kind: str) -> None:
    """Host ``count`` baseline servers and ``count`` subnetkit miners; answer CPU-time queries."""
    install_loop(loop_kind)
    asyncio.run(_miner_process(conn, count))


async def _miner_process(conn: Connection, count: int) -> None:
    import logging

    from subnetkit.core.keys import Signer
    from subnetkit.miner import MinerServer
    from subnetkit.subnets.echo.miner import EchoMiner

    logging.getLogger("miner").setLevel(logging.WARNING)
    keys = [Signer.from_seed(bytes([i % 256, i // 256]) * 16) for i in range(count)]
    baseline = [make_baseline_server(k) for k in keys]
    for server, _ in baseline:
        await server.start()
    ours = [MinerServer(EchoMiner(), k) for k in keys]
    await asyncio.gather(*(m.start() for m in ours))
    conn.send(
        {
            "baseline": [(k.ss58, port) for k, (_, port) in zip(keys, baseline, strict=True)],
            "subnetkit": [(m.hotkey, m.port) for m in ours],
        }
    )
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "cpu":
            conn.send(time.process_time())
        else:
            break
    await asyncio.gather(*(m.stop(0) for m in ours))
    for server, _ in baseline:
        await server.stop(0)
    conn.send("stopped")


class MinerProcess:
    """The miners' own process (spawned), so client and miner each get a core."""

    def __init__(self, count: int, loop_kind: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=miner_process, args=(child, count, loop_kind), daemon=True)
        self.proc.start()
        if not self.conn.poll(120):
            raise RuntimeError("miner process did not start within 120 s")
        self.endpoints: dict[str, list[tuple[str, int]]] = self.conn.recv()

    def cpu(self) -> float:
        """The miner process's CPU seconds so far (CPU per request counts both processes)."""
        self.conn.send("cpu")
        return float(self.conn.recv())

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.poll(30)
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()
