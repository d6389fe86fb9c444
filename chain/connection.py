"""The chain client's transport: a gRPC channel to the chain service, typed errors, and
extrinsics signed with ordered nonces and submitted (:class:`ChainConnection`).

Calls wait for the channel to be ready within their deadline, so a client outlives a chain
restart: gRPC reconnects underneath and the next call goes through. An unreachable chain or a
missed deadline is :class:`subnetkit.core.errors.ChainUnavailableError`; the chain's refusals
arrive as typed :class:`subnetkit.core.errors.ChainError` with the chain's ``.code``.

The connection keeps each signer's next nonce and hands them out in order, so concurrent calls
from one key do not collide; after a refusal at the pool it re-reads the nonce from the chain.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import grpc

from subnetkit.chain import extrinsic
from subnetkit.chain.errors import chain_error
from subnetkit.core.errors import ChainError, ChainUnavailableError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.protos.chain.v1 import chain_pb2_grpc as pb_grpc

ERROR_KEY = "x-chain-error"
DEFAULT_TIMEOUT = 10.0
#: submissions that wait for inclusion need at least a block time; 12 s blocks are the slowest
DEFAULT_SUBMIT_TIMEOUT = 60.0
#: first and longest pause before a call refused as ``busy`` is retried
BUSY_FIRST_PAUSE_S = 0.002
BUSY_MAX_PAUSE_S = 0.1


def _is_busy(exc: grpc.aio.AioRpcError) -> bool:
    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    return any(k == ERROR_KEY and v in ("busy", b"busy") for k, v in exc.trailing_metadata() or ())


def raise_rpc_error(exc: grpc.aio.AioRpcError, what: str) -> None:
    """Re-raise a failed RPC as the chain's typed error, or as ChainUnavailableError."""
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        raise ChainUnavailableError(
            f"chain did not answer {what} ({code.name}: {exc.details()}); is it running at the "
            "address given?"
        ) from None
    typed = None
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_KEY:
            typed = value if isinstance(value, str) else value.decode()
    details = exc.details() or ""
    message = details.split(": ", 1)[1] if typed and details.startswith(f"{typed}: ") else details
    raise chain_error(typed or "chain", message or f"{what} failed: {code.name}") from None


class ChainConnection:
    """A channel to the chain, the chain's head and accounts, and signed submission."""

    def __init__(self, address: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.ChainAsyncStub | None = None
        self._genesis: bytes | None = None
        self._nonces: dict[str, int] = {}
        self._nonce_locks: dict[str, asyncio.Lock] = {}

    # -- connection ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def connect(self) -> None:
        """Open the gRPC channel (lazily; calls connect on first use)."""
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self.address,
                options=[
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ],
            )
            self._stub = pb_grpc.ChainStub(self._channel)

    async def wait_reachable(self, timeout: float = 2.0) -> None:
        """Fail fast when nothing listens: wait at most ``timeout`` s for the channel to connect.

        Calls wait for the chain up to their full deadline (``wait_for_ready``), which is right
        for a neuron riding out a chain restart and wrong for a person at a terminal who typed
        the wrong port. Raises :class:`ChainUnavailableError` naming the address.
        """
        try:
            await self.info(timeout=timeout)  # one small RPC: it also caches the genesis hash
        except ChainUnavailableError:
            raise ChainUnavailableError(
                f"nothing answered at {self.address} within {timeout:g} s"
            ) from None

    async def close(self) -> None:
        """Close the channel (``async with`` does it on exit)."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None

    @property
    def stub(self) -> pb_grpc.ChainAsyncStub:
        """The generated async stub (for RPCs this client does not wrap)."""
        if self._stub is None:
            self.connect()
        assert self._stub is not None
        return self._stub

    async def _call(self, name: str, request: Any, timeout: float | None) -> Any:
        """One RPC within ``timeout`` s; a ``busy`` answer (this connection is over its share
        of the chain's reads, docs/chain.md) is retried after a growing pause while the
        deadline allows: every client in a process shares one gRPC connection, so one share."""
        method = getattr(self.stub, name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout or self.timeout)
        pause = BUSY_FIRST_PAUSE_S
        while True:
            left = deadline - loop.time()
            try:
                return await method(request, timeout=max(left, 0.001), wait_for_ready=True)
            except grpc.aio.AioRpcError as exc:
                if not _is_busy(exc) or loop.time() + pause >= deadline:
                    raise_rpc_error(exc, name)
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, BUSY_MAX_PAUSE_S)

    # -- chain and blocks ------------------------------------------------------------------------
    async def info(self, *, timeout: float | None = None) -> pb.GetChainInfoResponse:
        """Chain-wide facts: genesis hash, head, block time, subnet lock cost, ..."""
        info: pb.GetChainInfoResponse = await self._call(
            "GetChainInfo", pb.GetChainInfoRequest(), timeout
        )
        self._genesis = info.genesis_hash
        return info

    async def genesis_hash(self, *, timeout: float | None = None) -> bytes:
        """The chain's genesis hash (cached after the first call)."""
        if self._genesis is None:
            await self.info(timeout=timeout)
        assert self._genesis is not None
        return self._genesis

    async def head(self, *, timeout: float | None = None) -> pb.BlockHeader:
        """The header of the newest block."""
        resp: pb.GetHeadResponse = await self._call("GetHead", pb.GetHeadRequest(), timeout)
        return resp.head

    async def block(self, number: int, *, timeout: float | None = None) -> pb.Block:
        """Block ``number`` with its extrinsics and events."""
        request = pb.GetBlockRequest(number=number)
        resp: pb.GetBlockResponse = await self._call("GetBlock", request, timeout)
        return resp.block

    async def produce_block(
        self, count: int = 1, *, timeout: float | None = None
    ) -> pb.BlockHeader:
        """Manual mode: produce ``count`` blocks now; returns the last header."""
        request = pb.ProduceBlocksRequest(count=count)
        resp: pb.ProduceBlocksResponse = await self._call("ProduceBlocks", request, timeout)
        return resp.headers[-1]

    async def stream_blocks(self, from_block: int = 0) -> AsyncIterator[pb.Block]:
        """New blocks with their events as they are produced (from ``from_block`` if given)."""
        call = self.stub.StreamBlocks(pb.StreamBlocksRequest(from_block=from_block))
        try:
            async for item in call:
                yield item.block
        except grpc.aio.AioRpcError as exc:
            raise_rpc_error(exc, "StreamBlocks")
        finally:
            call.cancel()

    # -- accounts --------------------------------------------------------------------------------
    async def account(
        self, address: str, *, at_block: int = 0, timeout: float | None = None
    ) -> pb.GetAccountResponse:
        """The account of ``address`` (free balance, nonce) at ``at_block`` (0: head)."""
        request = pb.GetAccountRequest(address=address, at_block=at_block)
        resp: pb.GetAccountResponse = await self._call("GetAccount", request, timeout)
        return resp

    async def balance(
        self, address: str, *, at_block: int = 0, timeout: float | None = None
    ) -> int:
        """Free TAO of ``address`` in rao."""
        return int((await self.account(address, at_block=at_block, timeout=timeout)).balance)

    async def nonce(self, address: str, *, timeout: float | None = None) -> int:
        """The next nonce the chain expects from ``address``."""
        return int((await self.account(address, timeout=timeout)).nonce)

    # -- submission ------------------------------------------------------------------------------
    async def _next_nonce(self, signer: Signer, timeout: float | None) -> int:
        lock = self._nonce_locks.setdefault(signer.ss58, asyncio.Lock())
        async with lock:
            if signer.ss58 not in self._nonces:
                self._nonces[signer.ss58] = await self.nonce(signer.ss58, timeout=timeout)
            nonce = self._nonces[signer.ss58]
            self._nonces[signer.ss58] = nonce + 1
            return nonce

    def forget_nonce(self, address: str) -> None:
        """Re-read ``address``'s nonce from the chain before its next extrinsic."""
        self._nonces.pop(address, None)

    async def sign(
        self, signer: Signer, call: pb.Call, *, timeout: float | None = None
    ) -> pb.Extrinsic:
        """An extrinsic for ``call`` signed by ``signer`` with its next nonce."""
        genesis = await self.genesis_hash(timeout=timeout)
        nonce = await self._next_nonce(signer, timeout)
        return extrinsic.build(signer, nonce, call, genesis)

    async def submit(
        self,
        signer: Signer,
        call: pb.Call,
        *,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Sign and submit ``call``. With ``wait`` (default) return the receipt once included,
        raising the typed error if the call failed; without, return a receipt holding only the
        extrinsic hash (look it up later with :meth:`receipt`)."""
        ext = await self.sign(signer, call, timeout=timeout)
        try:
            resp: pb.SubmitExtrinsicResponse = await self._call(
                "SubmitExtrinsic",
                pb.SubmitExtrinsicRequest(extrinsic=ext, wait_for_inclusion=wait),
                timeout or DEFAULT_SUBMIT_TIMEOUT,
            )
        except ChainError as exc:
            if not isinstance(exc, ChainUnavailableError) or not wait:
                self.forget_nonce(signer.ss58)
            raise
        if not wait:
            return pb.Receipt(extrinsic_hash=resp.extrinsic_hash)
        return self.check(resp.receipt)

    async def submit_batch(
        self, extrinsics: Sequence[pb.Extrinsic], *, wait: bool = True, timeout: float | None = None
    ) -> list[pb.SubmitResult]:
        """Submit pre-signed extrinsics in one RPC (load tools); per item a result, no raising."""
        resp: pb.SubmitExtrinsicsResponse = await self._call(
            "SubmitExtrinsics",
            pb.SubmitExtrinsicsRequest(extrinsics=list(extrinsics), wait_for_inclusion=wait),
            timeout or DEFAULT_SUBMIT_TIMEOUT,
        )
        return list(resp.results)

    async def receipt(
        self, ext_hash: bytes, *, wait: bool = False, timeout: float | None = None
    ) -> pb.Receipt | None:
        """The receipt of an included extrinsic; ``None`` if not (yet) included."""
        resp = await self._call(
            "GetReceipt", pb.GetReceiptRequest(extrinsic_hash=ext_hash, wait=wait), timeout
        )
        return resp.receipt if resp.found else None

    @staticmethod
    def check(receipt: pb.Receipt) -> pb.Receipt:
        """Return ``receipt`` if it succeeded, else raise its typed error."""
        if not receipt.success:
            raise chain_error(receipt.error_code, receipt.error_message)
        return receipt
