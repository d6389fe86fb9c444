"""A validator's TLS identity endpoint: where miners fetch the certificate it presents.

A miner that requires mutual TLS accepts only client certificates it holds; the chain carries
only a fingerprint, so the certificate itself must come from somewhere. With ``axon.tls`` a
validator serves it here: a gRPC server over TLS with the validator's hotkey-bound certificate
and nothing but the standard health service. A miner's one TLS handshake reads the certificate
and checks it against the fingerprint the validator announced (``chain.endpoints.IDENTITY``)
and against the hotkey named in its binding (``subnetkit.miner.validator_certs``).

Everyone may connect, so it is bounded like a miner (``subnetkit.wire.server_bounds``), with
tighter numbers: it answers health checks and handshakes, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subnetkit.chain import endpoints
from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import AxonInfo
from subnetkit.chain.sync import MetagraphSync
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.core.ports import bind_problem
from subnetkit.core.settings import AxonSettings
from subnetkit.wire import tls
from subnetkit.wire.server_bounds import BoundedHealthServicer, connection_options
from subnetkit.wire.tls import HotkeyCertificate

log = logging.getLogger(__name__)


class IdentityEndpoint:
    """Serves ``certificate`` over TLS on ``host:port`` (0 picks a free port).

    ``max_connections`` bounds open connections (miners fetch and hang up); idle ones are closed
    after ``idle_s`` seconds, any after ``max_age_s``.
    """

    def __init__(
        self,
        certificate: HotkeyCertificate,
        host: str,
        port: int,
        *,
        max_connections: int = 256,
        idle_s: float = 30.0,
        max_age_s: float = 300.0,
        max_health_watchers: int = 8,
    ) -> None:
        self.certificate = certificate
        self.host = host
        self._requested_port = port
        self._options = connection_options(
            max_receive_bytes=4 * 1024,  # a health check; nothing bigger is ever needed
            max_send_bytes=4 * 1024,
            max_streams_per_connection=4,
            max_connections=max_connections,
            max_connection_idle_s=idle_s,
            max_connection_age_s=max_age_s,
            connection_age_grace_s=5.0,
            handshake_timeout_s=5.0,
            keepalive_min_interval_s=10.0,
            max_ping_strikes=2,
            max_metadata_bytes=4 * 1024,
        )
        self._health = BoundedHealthServicer(max_health_watchers)
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when constructed with port 0)."""
        if self._port is None:
            raise RuntimeError("IdentityEndpoint is not started")
        return self._port

    async def start(self) -> None:
        """Bind and serve; a port that cannot be bound is a ConfigError saying which."""
        address = f"{self.host}:{self._requested_port}"
        problem = bind_problem(self.host, self._requested_port)
        if problem is not None:
            raise ConfigError(problem)
        server = grpc.aio.server(options=self._options)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        pair = [(self.certificate.key_pem, self.certificate.cert_pem)]
        try:
            port = server.add_secure_port(address, grpc.ssl_server_credentials(pair))
        except RuntimeError as exc:
            raise ConfigError(
                f"cannot bind the validator's TLS endpoint to {address}: {exc}"
            ) from None
        if port == 0:
            raise ConfigError(
                f"cannot bind the validator's TLS endpoint to {address}: is the port in use? "
                "Set axon.port (0 picks a free one)"
            )
        await server.start()
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._server, self._port = server, port
        log.info("validator certificate served over TLS on %s:%d", self.host, port)

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving (health NOT_SERVING first)."""
        server, self._server = self._server, None
        if server is not None:
            await self._health.enter_graceful_shutdown()
            await server.stop(grace)


async def serve_identity(
    chain: ChainClient,
    signer: Signer,
    sync: MetagraphSync,
    uid: int,
    axon: AxonSettings,
    state_dir: Path,
) -> IdentityEndpoint:
    """Load (or issue) the validator's certificate, serve it on ``axon``, announce it on chain.

    The certificate is kept in ``state_dir`` so its fingerprint survives restarts; the
    announcement is skipped when the chain already holds this exact endpoint (no rate limit
    tripped by a restart), and made again when the certificate or the address changed.
    """
    certificate = tls.load_or_issue(state_dir, signer)
    served = IdentityEndpoint(certificate, axon.host, axon.port)
    await served.start()
    endpoint = endpoints.Endpoint(
        axon.external_ip or axon.host,
        axon.external_port or served.port,
        certificate.fingerprint,
        endpoints.IDENTITY,
    )
    try:
        await endpoints.announce(chain, signer, sync, uid, endpoint)
    except BaseException:
        await served.stop(0)
        raise
    return served


def warn_without_identity(axons: Sequence[AxonInfo]) -> None:
    """Say once, at start, when miners require client TLS and this validator has no TLS
    identity: each of them refuses it in the handshake, so they score nothing from it."""
    refusing = sum(endpoints.requires_client_tls(a) for a in axons)
    if refusing:
        log.warning(
            "%d miner(s) on this subnet require client TLS and refuse a validator without a "
            "certificate: set axon.tls = true (docs/operating.md, Mutual TLS and session mode)",
            refusing,
        )


__all__ = ["IdentityEndpoint", "serve_identity", "warn_without_identity"]
