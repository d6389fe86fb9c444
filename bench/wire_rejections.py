"""What a rejected request costs a miner, beside a bare grpc.aio handler that aborts at once.

The floor is a grpc.aio server whose handler does nothing but ``context.abort``: what gRPC alone
costs per refused request. The same requests go to a subnetkit miner, which refuses them for a
reason: stale nonce, replayed nonce, malformed metadata, wrong receiver (none needs a signature
check), and bad signature (exactly one verification). Only the miner process's CPU is counted:
the attacker's side is the same for both. Goals (issue "Rejections are cheap"): each of the
first four at most 1.2x the floor; a bad signature at most 1.2x the floor plus one sr25519
verification, measured in the same process.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from wire_peers import install_loop

ECHO_PATH = "/subnets.echo.v1.Echo/Echo"
KINDS = ("stale", "replayed", "malformed", "wrong_receiver", "bad_signature")
NO_SIGNATURE_KINDS = KINDS[:4]


def _serve(conn: Connection, loop_kind: str) -> None:
    install_loop(loop_kind)
    asyncio.run(_serve_async(conn))


async def _serve_async(conn: Connection) -> None:
    import logging

    import grpc

    from subnetkit.core.keys import Signer, verify
    from subnetkit.miner import MinerServer
    from subnetkit.subnets.echo.miner import EchoMiner

    logging.getLogger("subnetkit").setLevel(logging.WARNING)

    async def abort(_body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "refused")
        raise AssertionError("unreachable")

    bare = grpc.aio.server()
    bare.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "subnets.echo.v1.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(abort)}
            ),
        )
    )
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    await bare.start()
    key = Signer.from_seed(b"\x07" * 32)
    miner = MinerServer(EchoMiner(), key)
    await miner.start()
    conn.send({"bare": bare_port, "miner": miner.port, "hotkey": miner.hotkey})
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "cpu":
            conn.send(time.process_time())
        elif command == "verify":
            message, signature = os.urandom(200), key.sign(b"x")
            started, n = time.process_time(), 2000
            for _ in range(n):
                verify(key.ss58, message, signature)
            conn.send((time.process_time() - started) / n)
        else:
            break
    await miner.stop(0)
    await bare.stop(0)
    conn.send("stopped")


class RejectingServers:
    """The floor server and a subnetkit miner in their own (spawned) process."""

    def __init__(self, loop_kind: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, loop_kind), daemon=True)
        self.proc.start()
        if not self.conn.poll(120):
            raise RuntimeError("server process did not start within 120 s")
        self.ports: dict[str, Any] = self.conn.recv()

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.poll(30)
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


def metadata_for(kind: str, hotkey: str, body: bytes) -> list[tuple[str, str | bytes]]:
    """One request's metadata that the miner refuses for ``kind`` (built once, sent many times)."""
    from subnetkit.core.keys import dev_signer
    from subnetkit.wire import protocol

    alice = dev_signer("alice")
    now = time.time_ns()
    nonce = now - 60 * 1_000_000_000 if kind == "stale" else now
    receiver = dev_signer("charlie").ss58 if kind == "wrong_receiver" else hotkey
    md = list(
        protocol.sign_request(
            alice,
            method=ECHO_PATH,
            receiver=receiver,
            body_hash=protocol.sha256(body),
            nonce=nonce,
        )
    )
    if kind == "malformed":
        return [(k, v) for k, v in md if k != protocol.MD_SIGNATURE]
    if kind == "bad_signature":
        return [(k, os.urandom(64) if k == protocol.MD_SIGNATURE else v) for k, v in md]
    return md


async def _closed_loop(
    call: Callable[[], Awaitable[None]], concurrency: int, seconds: float
) -> tuple[int, float]:
    """``concurrency`` workers calling back to back for ``seconds``: (requests, wall seconds)."""
    done = 0
    started = time.perf_counter()
    stop_at = started + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await call()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


def _sender(
    fn: Any, body: bytes, md: list[tuple[str, str | bytes]], kind: str
) -> Callable[[], Awaitable[None]]:
    import grpc

    async def send() -> None:
        try:
            await fn(body, metadata=md, timeout=5)
        except grpc.aio.AioRpcError:
            return
        raise RuntimeError(f"{kind}: the miner served a request it must refuse")

    return send


async def bench_rejections(args: Any) -> dict[str, Any]:
    """Server CPU and wall time per refused request, subnetkit over the floor, per kind.

    Each kind runs ``args.slices`` pairs of short slices, floor and miner back to back, their
    order alternating (ABBA) so a drift in the machine's load hits both alike. A ratio is the
    median over the pairs of miner/floor within one pair: other work on a shared machine
    shifts whole slices, and a pair's ratio cancels what hit both of its slices.
    """
    import grpc

    from subnetkit.subnets.echo import echo_pb2

    servers = RejectingServers(args.loop)
    body = echo_pb2.EchoRequest(text="bench").SerializeToString()
    channels: list[grpc.aio.Channel] = []
    try:
        calls = {}
        for name in ("bare", "miner"):
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{servers.ports[name]}")
            channels.append(channel)
            calls[name] = channel.unary_unary(ECHO_PATH)
        verify_s = min(servers.ask("verify") for _ in range(3))
        figures: dict[str, Any] = {"verify_us": round(verify_s * 1e6, 2)}
        for kind in KINDS:
            cpu: dict[str, list[float]] = {"bare": [], "miner": []}
            wall: dict[str, list[float]] = {"bare": [], "miner": []}
            for pair in range(args.slices + 1):  # the first pair warms up, uncounted
                # Fresh per pair: a slice must stay inside the nonce's freshness window.
                md = metadata_for(kind, servers.ports["hotkey"], body)
                if kind == "replayed":
                    await calls["miner"](body, metadata=md, timeout=5)  # served: now a replay
                order = ("bare", "miner") if pair % 2 else ("miner", "bare")
                for name in order:
                    before = servers.ask("cpu")
                    n, seconds = await _closed_loop(
                        _sender(calls[name], body, md, kind), 32, args.slice_seconds
                    )
                    if pair:
                        cpu[name].append((servers.ask("cpu") - before) / max(n, 1))
                        wall[name].append(seconds / max(n, 1))
            floor = statistics.median(cpu["bare"])
            ours = statistics.median(cpu["miner"])
            figures[f"reject_floor_us_{kind}"] = round(floor * 1e6, 2)
            figures[f"reject_us_{kind}"] = round(ours * 1e6, 2)
            pairs = list(zip(cpu["miner"], cpu["bare"], strict=True))
            if kind == "bad_signature":
                ratio = statistics.median(m / (1.2 * b + verify_s) for m, b in pairs)
                figures["reject_bad_signature_budget_ratio"] = round(ratio, 3)
            else:
                figures[f"reject_cpu_ratio_{kind}"] = round(
                    statistics.median(m / b for m, b in pairs), 3
                )
            figures[f"reject_wall_ratio_{kind}"] = round(
                statistics.median(m / b for m, b in zip(wall["miner"], wall["bare"], strict=True)),
                3,
            )
        figures["reject_cpu_ratio"] = max(
            figures[f"reject_cpu_ratio_{k}"] for k in NO_SIGNATURE_KINDS
        )
        figures["reject_wall_ratio"] = max(
            figures[f"reject_wall_ratio_{k}"] for k in NO_SIGNATURE_KINDS
        )
        figures["reject_slices"] = args.slices
        return figures
    finally:
        for channel in channels:
            await channel.close()
        servers.stop()


def report_rejections(figures: dict[str, Any]) -> None:
    print("rejections: miner-process CPU per refused request (floor: grpc.aio handler that aborts)")
    print(
        f"(median over {figures['reject_slices']} interleaved slice pairs of the pair's ratio; "
        "wall: the client's time per refused request, same pairs)"
    )
    print(f"{'kind':>15} {'floor us':>9} {'subnetkit us':>13} {'CPU ratio':>10} {'wall ratio':>11}")
    for kind in KINDS:
        ratio = figures.get(
            f"reject_cpu_ratio_{kind}", figures.get("reject_bad_signature_budget_ratio")
        )
        print(
            f"{kind:>15} {figures[f'reject_floor_us_{kind}']:>9.1f} "
            f"{figures[f'reject_us_{kind}']:>13.1f} {ratio:>10.3f} "
            f"{figures[f'reject_wall_ratio_{kind}']:>11.3f}"
        )
    print(
        f"no-signature rejections: worst ratio {figures['reject_cpu_ratio']} (target <= 1.2); "
        f"bad signature over 1.2 x floor + one verification ({figures['verify_us']} us): "
        f"{figures['reject_bad_signature_budget_ratio']} (target <= 1.0)"
    )
