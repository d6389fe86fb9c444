"""This process's connection to a Ray cluster: one it joins, or a local one it starts and stops.

Two things make a local cluster safe on a shared machine, and both must happen before Ray is
imported, because Ray reads them at import and its processes inherit them:

* ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps every node on 127.0.0.1. By default a Ray node
  advertises the machine's network address, and asking for ``127.0.0.1`` alone is rewritten to
  that address; with this switch Ray's own node-address lookup answers loopback, so miners bound
  to "the node's address" listen on 127.0.0.1 and all traffic stays on this machine. It is set
  for a local cluster and for a cluster joined at a loopback address (one started the same way),
  never for a cluster at a real address.
* ``RAY_TMPDIR``, a fresh directory per run: Ray keeps its sockets, logs and the address of "the
  latest cluster" there, so two runs (or two users) never find and join each other's cluster.
  ``ray.init(address="local")`` always starts a new cluster rather than joining one it found.

Closing a session disconnects this driver; for a cluster the session started, that also stops
every process of it (Ray's ``shutdown``), then its directory is removed. A cluster that was
joined is left running: it is someone else's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from subnetkit.core.errors import ConfigError

LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
NAMESPACE = "subnetkit"
#: The object store only carries small things here (endpoints, histogram blobs).
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024
_PROBE_TIMEOUT_S = 5.0


def import_ray() -> ModuleType:
    """``ray``, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--backend ray needs Ray: pip install 'subnetkit[ray]' (on every node of the cluster)"
        ) from None
    return ray


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address {address!r} is not HOST:PORT (the head's GCS port)")
    return host.strip("[]"), int(port)


def _keep_on_loopback() -> None:
    """Set the loopback switch; refuse when Ray was already imported without it."""
    os.environ[LOOPBACK_SWITCH] = "0"
    import sys

    if "ray" in sys.modules:
        from ray._private import ray_constants

        if ray_constants.ENABLE_RAY_CLUSTER:
            raise ConfigError(
                "Ray was imported before subnetkit could keep it on 127.0.0.1: set "
                f"{LOOPBACK_SWITCH}=0 in the environment, or start the run in a fresh process"
            )


@dataclass
class RaySession:
    """A connected driver (see the module docstring); ``close`` it, exactly once."""

    ray: ModuleType
    address: str
    started_local: bool
    temp_dir: str | None = None
    loopback: bool = False
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, address: str | None, *, num_cpus: int | None = None) -> RaySession:
        """Join the cluster at ``address`` (the head's ``HOST:PORT``), or start a local one on
        127.0.0.1 with ``num_cpus`` logical CPUs (default: this machine's count)."""
        if address is None:
            return cls._start_local(num_cpus)
        host, port = _split_address(address)
        try:
            with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
                pass
        except OSError as exc:
            raise ConfigError(
                f"no Ray cluster answers at --ray-address {address}: {exc.strerror or exc} "
                "(give the head's GCS address, as `ray start --head` printed it)"
            ) from None
        loopback = is_loopback(host)
        if loopback:
            _keep_on_loopback()
        ray = import_ray()
        if ray.is_initialized():
            raise ConfigError("this process is already connected to a Ray cluster")
        ray.init(
            address=f"{host}:{port}",
            namespace=NAMESPACE,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        return cls(ray, f"{host}:{port}", started_local=False, loopback=loopback)

    @classmethod
    def _start_local(cls, num_cpus: int | None) -> RaySession:
        _keep_on_loopback()
        temp_dir = tempfile.mkdtemp(prefix="skray-")
        os.environ["RAY_TMPDIR"] = temp_dir
        try:
            ray = import_ray()
            if ray.is_initialized():
                raise ConfigError("this process is already connected to a Ray cluster")
            ray.init(
                address="local",
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except BaseException:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        address = ray.get_runtime_context().gcs_address
        return cls(ray, address, started_local=True, temp_dir=temp_dir, loopback=True)

    def nodes(self) -> list[dict[str, Any]]:
        """The cluster's live nodes: ``node_id``, ``ip``, ``cpus``."""
        return [
            {
                "node_id": n["NodeID"],
                "ip": n["NodeManagerAddress"],
                "cpus": float(n.get("Resources", {}).get("CPU", 0.0)),
            }
            for n in self.ray.nodes()
            if n.get("Alive")
        ]

    def check_loopback(self) -> None:
        """On a loopback cluster every node must be on loopback too: miners bind to their
        node's address, and traffic here may go to this machine only."""
        if not self.loopback:
            return
        outside = [n["ip"] for n in self.nodes() if not is_loopback(n["ip"])]
        if outside:
            raise ConfigError(
                f"the cluster at {self.address} has nodes at {', '.join(outside)}: a cluster on "
                f"127.0.0.1 must be started with {LOOPBACK_SWITCH}=0 on every node"
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.ray.shutdown()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        """What the summary says about the cluster."""
        return {"address": self.address, "started_local": self.started_local}


__all__ = ["LOOPBACK_SWITCH", "NAMESPACE", "RaySession", "import_ray", "is_loopback"]
