"""A real two-node Ray cluster on 127.0.0.1, held by a process of its own (tests, benches, and
trying the Ray backend out).

``python -m subnetkit.testing.ray_cluster CPUS`` starts a head and one more node with CPUS logical
CPUs each and a small object store (Ray's ``cluster_utils.Cluster``: two raylets, each with its
own workers), prints ``{"address": ...}`` once both are alive, and takes it all down when its
standard input closes: the test holds the pipe, so the cluster never outlives the test. It sets
the loopback switch and a private ``RAY_TMPDIR`` before importing Ray (see
subnetkit/raybackend/session.py for why): nothing of it listens beyond 127.0.0.1, and no other
run on the machine can find or join it. Never ``ray stop``: that ends every Ray process here.

:func:`marked_processes` finds every process that carries a marker in its environment: the
tests give the holder and the CLI one, every Ray process they start inherits it, and after the
teardown none may be left.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

MARKER = "SUBNETKIT_RAY_TEST_MARK"


def marked_processes(mark: str) -> list[str]:
    """``"PID cmdline"`` of every live process whose environment has ``MARKER=mark``."""
    needle = f"{MARKER}={mark}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found.append(f"{proc.name} {cmdline[:200]}")
    return found


def main() -> None:
    cpus = int(sys.argv[1])
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    temp_dir = tempfile.mkdtemp(prefix="skray-")
    os.environ["RAY_TMPDIR"] = temp_dir
    from ray.cluster_utils import Cluster

    store = 80 * 1024 * 1024
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": cpus, "include_dashboard": False, "object_store_memory": store},
    )
    try:
        cluster.add_node(num_cpus=cpus, object_store_memory=store)
        cluster.wait_for_nodes(timeout=120)
        print(json.dumps({"address": cluster.address}), flush=True)
        sys.stdin.buffer.read()  # until the test lets go
    finally:
        cluster.shutdown()  # type: ignore[no-untyped-call]
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
