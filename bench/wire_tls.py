"""TLS keyed by hotkeys, against the plaintext signed wire, in the same run.

Three subnetkit miners in one (spawned) process, the same Echo miner each: plaintext, TLS
(pinned by fingerprint, every request signed), and mutual TLS with the validator's certificate
trusted (session mode: requests unsigned, responses signed, carried on one session stream per
miner: docs/protocol.md "Session streams"). The client is ``MinerClient`` in
each mode, closed-loop at one concurrency, slices interleaved: plaintext, TLS, session, repeated,
so other work on the machine hits all three alike. Figures: ``tls_throughput_ratio`` (TLS over
plaintext, goal >= 0.8) and ``session_throughput_ratio`` (session over plaintext, goal >= 1.5),
each the median over sets of interleaved short slices (ABCD DCBA) of the ratio within a
set. A fourth slice, ``session_sampled``, is session mode with a client that verifies a sample
of the responses (the pinned mutual-TLS channel already authenticates them;
``subnetkit.validator.response_checks``); a fifth, ``session_calls``, is session mode with a
gRPC call per request instead of the stream (``session_streams=False``), which shows what the
stream saves; and each mode's ``*_cpu_ratio`` is plaintext's CPU
per request (both processes) over its own; the client's and the miner's CPU are shown apart.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from wire_load import load
from wire_peers import install_loop

MODES = ("plaintext", "tls", "session", "session_sampled", "session_calls")
#: the share of session responses the sampled client verifies (validator.response_checks)
SESSION_SAMPLE = 1 / 16


def _serve(conn: Connection, client_cert_pem: bytes, loop_kind: str) -> None:
    install_loop(loop_kind)
    asyncio.run(_serve_async(conn, client_cert_pem))


async def _serve_async(conn: Connection, client_cert_pem: bytes) -> None:
    import logging

    from subnetkit.core.keys import Signer
    from subnetkit.miner import MinerServer
    from subnetkit.miner.sessions import TrustedPeers
    from subnetkit.subnets.echo.miner import EchoMiner
    from subnetkit.wire import tls

    logging.getLogger("subnetkit").setLevel(logging.WARNING)
    keys = [Signer.from_seed(bytes([i + 1]) * 32) for i in range(3)]
    certs = [tls.issue(k) for k in keys]
    peers = TrustedPeers()
    peers.add(client_cert_pem)
    servers = [
        MinerServer(EchoMiner(), keys[0]),
        MinerServer(EchoMiner(), keys[1], tls=certs[1]),
        MinerServer(EchoMiner(), keys[2], tls=certs[2], client_certificates=peers),
    ]
    await asyncio.gather(*(s.start() for s in servers))
    conn.send(
        [(s.hotkey, s.port, b"" if i == 0 else certs[i].fingerprint) for i, s in enumerate(servers)]
    )
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, conn.recv) == "cpu":
        conn.send(time.process_time())
    await asyncio.gather(*(s.stop(0) for s in servers))
    conn.send("stopped")


class TlsMiners:
    """The three miners' process; ``cpu()`` reads its CPU seconds (CPU counts both processes)."""

    def __init__(self, client_cert_pem: bytes, loop_kind: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve, args=(child, client_cert_pem, loop_kind), daemon=True
        )
        self.proc.start()
        if not self.conn.poll(120):
            raise RuntimeError("miner process did not start within 120 s")
        self.endpoints: list[tuple[str, int, bytes]] = self.conn.recv()

    def cpu(self) -> float:
        self.conn.send("cpu")
        return float(self.conn.recv())

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.poll(30)
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


async def bench_tls(args: Any, concurrency: int = 32) -> dict[str, Any]:
    """Closed-loop req/s and CPU per request in each mode; ratios over plaintext."""
    from subnetkit.core.keys import dev_signer
    from subnetkit.subnets.echo import echo_pb2
    from subnetkit.validator.client import MinerClient, Target
    from subnetkit.wire import tls

    alice = dev_signer("alice")
    alice_cert = tls.issue(alice)
    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
    request = echo_pb2.EchoRequest(text="bench", payload=os.urandom(args.payload))
    miners = TlsMiners(alice_cert.cert_pem, args.loop)
    try:
        targets = [Target(h, "127.0.0.1", p, tls_fingerprint=fp) for h, p, fp in miners.endpoints]
        async with (
            MinerClient(alice, max_concurrency=concurrency) as signed,
            MinerClient(
                alice, max_concurrency=concurrency, tls_certificate=alice_cert, session=True
            ) as session,
            MinerClient(
                alice,
                max_concurrency=concurrency,
                tls_certificate=alice_cert,
                session=True,
                session_verify_sample=SESSION_SAMPLE,
            ) as sampled,
            MinerClient(
                alice,
                max_concurrency=concurrency,
                tls_certificate=alice_cert,
                session=True,
                session_streams=False,
            ) as calls,
        ):
            clients = {
                "plaintext": signed,
                "tls": signed,
                "session": session,
                "session_sampled": sampled,
                "session_calls": calls,
            }

            def caller(mode: str) -> Any:
                client, target = clients[mode], targets[min(MODES.index(mode), 2)]

                async def call() -> bool:
                    return (await client.query([target], method, request, timeout=10))[0].ok

                return call

            slices: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
            for _ in range(2):  # warm every channel and both processes, uncounted
                for mode in MODES:
                    await load(caller(mode), concurrency, args.slice_seconds, miners)
            for n in range(args.slices):
                # Interleaved, the order reversed every other set (ABCD DCBA), so a drift in
                # the machine's load hits every mode alike; ratios are taken within a set.
                for mode in MODES if n % 2 == 0 else MODES[::-1]:
                    slices[mode].append(
                        await load(caller(mode), concurrency, args.slice_seconds, miners)
                    )
    finally:
        miners.stop()
    figures: dict[str, Any] = {}
    for mode in MODES:
        figures[f"{mode}_rps"] = round(statistics.median(s["rps"] for s in slices[mode]), 1)
        figures[f"{mode}_cpu_ms"] = round(
            statistics.median(s["cpu_ms_per_req"] for s in slices[mode]), 3
        )
        for side in ("client", "server"):
            figures[f"{mode}_{side}_cpu_ms"] = round(
                statistics.median(s[f"{side}_cpu_ms_per_req"] for s in slices[mode]), 3
            )
        figures[f"{mode}_failures"] = sum(int(s["failures"]) for s in slices[mode])
        figures[f"{mode}_p50_ms"] = round(statistics.median(s["p50_ms"] for s in slices[mode]), 3)
    for mode in MODES[1:]:
        plain = slices["plaintext"]
        rps = [s["rps"] / p["rps"] for s, p in zip(slices[mode], plain, strict=True)]
        figures[f"{mode}_throughput_ratio"] = round(statistics.median(rps), 3)
        # CPU per request (both processes) over plaintext's: steadier than rates on a busy box
        cpu = [
            p["cpu_ms_per_req"] / s["cpu_ms_per_req"]
            for s, p in zip(slices[mode], plain, strict=True)
        ]
        figures[f"{mode}_cpu_ratio"] = round(statistics.median(cpu), 3)
    figures["tls_concurrency"] = concurrency
    figures["tls_slices"] = args.slices
    return figures


def report_tls(figures: dict[str, Any]) -> None:
    print(
        f"TLS keyed by hotkeys, one miner each, concurrency {figures['tls_concurrency']}, "
        f"median of {figures['tls_slices']} interleaved slice sets"
    )
    print(
        f"{'mode':>15} {'req/s':>9} {'p50 ms':>7} {'CPU ms/req':>11} {'client ms':>10} "
        f"{'miner ms':>9} {'failures':>9}"
    )
    for mode in MODES:
        print(
            f"{mode:>15} {figures[f'{mode}_rps']:>9.1f} {figures[f'{mode}_p50_ms']:>7.2f} "
            f"{figures[f'{mode}_cpu_ms']:>11.3f} {figures[f'{mode}_client_cpu_ms']:>10.3f} "
            f"{figures[f'{mode}_server_cpu_ms']:>9.3f} {figures[f'{mode}_failures']:>9}"
        )
    print(
        f"tls_throughput_ratio {figures['tls_throughput_ratio']} (target >= 0.8), "
        f"session_throughput_ratio {figures['session_throughput_ratio']} (target >= 1.5; "
        f"every response verified), session_sampled_throughput_ratio "
        f"{figures['session_sampled_throughput_ratio']} (1 in {round(1 / SESSION_SAMPLE)} "
        "session responses verified)"
    )
    print(
        f"session_calls_throughput_ratio {figures['session_calls_throughput_ratio']} (session "
        "mode with a call per request instead of the session stream: what the stream saves)"
    )
    print(
        f"by CPU per request (plaintext's over the mode's, both processes): tls "
        f"{figures['tls_cpu_ratio']}, session {figures['session_cpu_ratio']}, session_sampled "
        f"{figures['session_sampled_cpu_ratio']}, session_calls "
        f"{figures['session_calls_cpu_ratio']}"
    )
