"""One worker process of a ``--backend processes`` swarm: N miners over gRPC on 127.0.0.1.

``python -m subnetkit.loadtest.swarm_host SUBNET VARIANT COUNT`` starts COUNT miners with fresh
keys, prints one JSON line ``{"miners": [[hotkey, port], ...]}`` once all serve, and stops them
when its standard input closes: the harness holds the pipe, so the swarm never outlives it.
"""

from __future__ import annotations

import asyncio
import json
import sys

from subnetkit.core.keys import Signer
from subnetkit.core.lifecycle import install_event_loop_policy
from subnetkit.loadtest.targets import build_miner
from subnetkit.miner import MinerServer


async def serve(subnet: str, variant: str | None, count: int) -> None:
    servers = [
        MinerServer(build_miner(subnet, variant), Signer.generate())  # type: ignore[arg-type]
        for _ in range(count)
    ]
    await asyncio.gather(*(s.start() for s in servers))
    try:
        print(json.dumps({"miners": [[s.hotkey, s.port] for s in servers]}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.buffer.read)  # until the harness lets go
    finally:
        await asyncio.gather(*(s.stop(1.0) for s in servers), return_exceptions=True)


def main() -> None:
    subnet, variant, count = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
    install_event_loop_policy()
    asyncio.run(serve(subnet, variant, count))


if __name__ == "__main__":
    main()
