"""Call a miner's handlers as the server would, from a unit test: no sockets, no key files.

:class:`MinerTestEnv` serves the miner on an in-process network (``MinerServer(network=...)``)
and calls it through ``MinerClient`` over the in-process transport, so a call takes the same
path as one from a validator across the network: the request is signed by the caller's key
and verified, freshness, replay cache, blacklist, priority, limits and the caller's deadline
apply, and the handler gets a :class:`~subnetkit.miner.CallContext` with the verified caller.
Only HTTP/2 and the kernel are skipped. Keys are generated (the miner's) or dev keys (callers).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from google.protobuf.message import Message

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.miner import Limits, Miner, MinerServer
from subnetkit.miner.leases import PriorityHook
from subnetkit.miner.pipeline import BlacklistHook
from subnetkit.validator.client import MinerClient
from subnetkit.validator.results import QueryError, QueryResult, Target
from subnetkit.wire.inprocess import InProcessNetwork, InProcessTransport
from subnetkit.wire.methods import (
    MethodRef,
    MethodSpec,
    method_spec,
    resolve_method,
    resolve_service,
)


class MinerTestEnv:
    """``async with MinerTestEnv(EchoMiner()) as env: reply = await env.call("Echo", req)``.

    ``caller`` is a :class:`Signer` or a dev key name (``"alice"``, the default; ``"eve"``...).
    ``blacklist``/``priority``/``limits`` are the server's, as in production.
    """

    def __init__(
        self,
        miner: Miner,
        *,
        miner_key: Signer | None = None,
        limits: Limits | None = None,
        blacklist: BlacklistHook | None = None,
        priority: PriorityHook | None = None,
    ) -> None:
        self.miner = miner
        self.network = InProcessNetwork()
        self.server = MinerServer(
            miner,
            miner_key or Signer.generate(),
            limits=limits,
            blacklist=blacklist,
            priority=priority,
            network=self.network,
        )
        self._clients: dict[str, MinerClient] = {}

    @property
    def hotkey(self) -> str:
        """The miner's hotkey (requests are addressed to it)."""
        return self.server.hotkey

    async def __aenter__(self) -> Self:
        await self.server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        await self.server.stop(0)

    def _client(self, caller: Signer | str) -> MinerClient:
        signer = dev_signer(caller) if isinstance(caller, str) else caller
        client = self._clients.get(signer.ss58)
        if client is None:
            client = MinerClient(signer, transport=InProcessTransport(self.network))
            self._clients[signer.ss58] = client
        return client

    def _target(self) -> Target:
        return Target(self.hotkey, self.network.host, self.server.port, self.server.signer.crypto)

    def spec(self, rpc: MethodRef) -> MethodSpec:
        """An RPC of the miner's service by its name alone (``"Echo"``), or any method ref."""
        if isinstance(rpc, str) and "." not in rpc and "/" not in rpc:
            service = resolve_service(type(self.miner).service)
            if rpc not in service.methods_by_name:
                known = ", ".join(sorted(service.methods_by_name))
                raise ConfigError(f"{service.full_name} has no RPC {rpc!r} (it has: {known})")
            return method_spec(service.methods_by_name[rpc])
        return resolve_method(rpc)

    async def result(
        self,
        rpc: MethodRef,
        request: Message,
        *,
        caller: Signer | str = "alice",
        timeout: float = 5.0,
    ) -> QueryResult[Message]:
        """One unary call as a validator makes it; a refusal is the result's ``error``."""
        client = self._client(caller)
        return await client.query_one(self._target(), self.spec(rpc).path, request, timeout)

    async def call(
        self,
        rpc: MethodRef,
        request: Message,
        *,
        caller: Signer | str = "alice",
        timeout: float = 5.0,
    ) -> Message:
        """The handler's verified response; ``QueryFailed`` (with the gRPC status) if refused."""
        return (await self.result(rpc, request, caller=caller, timeout=timeout)).value

    async def stream(
        self,
        rpc: MethodRef,
        request: Message,
        *,
        caller: Signer | str = "alice",
        timeout: float = 5.0,
    ) -> list[Message | QueryError]:
        """Every chunk of a server-streaming call (verified), or its error as the last item."""
        client = self._client(caller)
        path = self.spec(rpc).path
        return [item async for _, item in client.stream([self._target()], path, request, timeout)]


__all__ = ["MinerTestEnv"]
