"""A validator's certificate endpoint: it presents the hotkey-bound certificate, answers health
checks over TLS pinned to it, and is bounded like a miner (an oversized request or too many
health watchers are refused, and it serves on)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.validator.identity import IdentityEndpoint
from subnetkit.wire import tls

pytestmark = pytest.mark.timeout(30)
S = grpc.StatusCode


async def test_identity_endpoint_serves_its_certificate_and_stays_bounded(alice: Signer) -> None:
    cert = tls.issue(alice)
    endpoint = IdentityEndpoint(cert, "127.0.0.1", 0, max_health_watchers=2)
    await endpoint.start()
    try:
        pem = await tls.fetch_certificate("127.0.0.1", endpoint.port, cert.fingerprint)
        assert tls.bound_hotkey(pem) == alice.ss58
        creds = grpc.ssl_channel_credentials(root_certificates=pem)
        options = [("grpc.ssl_target_name_override", cert.server_name)]
        async with grpc.aio.secure_channel(f"127.0.0.1:{endpoint.port}", creds, options) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            check = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as big:
                await health.Check(health_pb2.HealthCheckRequest(service="x" * 8192), timeout=5)
            assert big.value.code() == S.RESOURCE_EXHAUSTED
            watches = []
            try:
                for _ in range(2):  # each one open (its first answer read) before the next
                    watches.append(health.Watch(health_pb2.HealthCheckRequest()))
                    first = await asyncio.wait_for(watches[-1].read(), 5)
                    assert first.status == health_pb2.HealthCheckResponse.SERVING
                watches.append(health.Watch(health_pb2.HealthCheckRequest()))
                with pytest.raises(grpc.aio.AioRpcError) as third:
                    await asyncio.wait_for(watches[-1].read(), 5)
                assert third.value.code() == S.RESOURCE_EXHAUSTED
            finally:
                for w in watches:
                    w.cancel()
            again = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert again.status == health_pb2.HealthCheckResponse.SERVING
        taken = IdentityEndpoint(cert, "127.0.0.1", endpoint.port)
        with pytest.raises(ConfigError, match="already in use"):
            await taken.start()
    finally:
        await endpoint.stop(0)
