"""``ChainClient`` (alias ``chain.Client``): the async, typed client of the chain service.

Every method takes ``timeout=`` (seconds, the gRPC deadline). Calls wait for the channel to be
ready within that deadline, so a client outlives a chain restart: gRPC reconnects underneath and
the next call goes through. Errors are typed: the chain's refusals arrive as
:class:`subnetkit.core.errors.ChainError` (``NotRegisteredError`` for ``not_registered``) with the
chain's ``.code``; an unreachable chain or a missed deadline is
:class:`subnetkit.core.errors.ChainUnavailableError`.

Extrinsics are signed here. The client keeps each signer's next nonce and hands them out in
order, so concurrent calls from one key do not collide; after a refusal at the pool it re-reads
the nonce from the chain. A call that was included but failed (insufficient balance, rate
limited, ...) raises its typed error; the nonce is used either way, as on subtensor.

Queries read the head by default; ``at_block=N`` reads the state as of block ``N`` if the chain
still keeps it (``GetChainInfo.kept_blocks`` back; older raises ``block_pruned``). ``at_block=0``
means the head.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import grpc

from subnetkit.chain import extrinsic
from subnetkit.chain.commit_reveal import commit_hash
from subnetkit.chain.errors import chain_error
from subnetkit.chain.metagraph import Metagraph
from subnetkit.core.errors import ChainError, ChainUnavailableError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.protos.chain.v1 import chain_pb2_grpc as pb_grpc

ERROR_KEY = "x-chain-error"
DEFAULT_TIMEOUT = 10.0
#: submissions that wait for inclusion need at least a block time; 12 s blocks are the slowest
DEFAULT_SUBMIT_TIMEOUT = 60.0


def _event(receipt: pb.Receipt, name: str) -> dict[str, Any]:
    for ev in receipt.events:
        if ev.name == name:
            return dict(json.loads(ev.data_json))
    raise ChainError(f"receipt has no {name} event", code="internal")


def _raise_rpc(exc: grpc.aio.AioRpcError, what: str) -> None:
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


class ChainClient:
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
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self.address,
                options=[
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ],
            )
            self._stub = pb_grpc.ChainStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None

    @property
    def stub(self) -> pb_grpc.ChainAsyncStub:
        if self._stub is None:
            self.connect()
        assert self._stub is not None
        return self._stub

    async def _call(self, name: str, request: Any, timeout: float | None) -> Any:
        method = getattr(self.stub, name)
        try:
            return await method(request, timeout=timeout or self.timeout, wait_for_ready=True)
        except grpc.aio.AioRpcError as exc:
            _raise_rpc(exc, name)

    # -- chain and blocks ------------------------------------------------------------------------
    async def info(self, *, timeout: float | None = None) -> pb.GetChainInfoResponse:
        info: pb.GetChainInfoResponse = await self._call(
            "GetChainInfo", pb.GetChainInfoRequest(), timeout
        )
        self._genesis = info.genesis_hash
        return info

    async def genesis_hash(self, *, timeout: float | None = None) -> bytes:
        if self._genesis is None:
            await self.info(timeout=timeout)
        assert self._genesis is not None
        return self._genesis

    async def head(self, *, timeout: float | None = None) -> pb.BlockHeader:
        resp: pb.GetHeadResponse = await self._call("GetHead", pb.GetHeadRequest(), timeout)
        return resp.head

    async def block(self, number: int, *, timeout: float | None = None) -> pb.Block:
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
            _raise_rpc(exc, "StreamBlocks")
        finally:
            call.cancel()

    # -- accounts --------------------------------------------------------------------------------
    async def account(
        self, address: str, *, at_block: int = 0, timeout: float | None = None
    ) -> pb.GetAccountResponse:
        request = pb.GetAccountRequest(address=address, at_block=at_block)
        resp: pb.GetAccountResponse = await self._call("GetAccount", request, timeout)
        return resp

    async def balance(
        self, address: str, *, at_block: int = 0, timeout: float | None = None
    ) -> int:
        """Free TAO of ``address`` in rao."""
        return int((await self.account(address, at_block=at_block, timeout=timeout)).balance)

    async def nonce(self, address: str, *, timeout: float | None = None) -> int:
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

    # -- calls -----------------------------------------------------------------------------------
    async def transfer(
        self,
        coldkey: Signer,
        dest: str,
        amount: int,
        *,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        call = pb.Call(transfer=pb.Transfer(dest=dest, amount=amount))
        return await self.submit(coldkey, call, wait=wait, timeout=timeout)

    async def create_subnet(
        self, coldkey: Signer, hotkey: str, *, timeout: float | None = None
    ) -> int:
        """Create a subnet (pays the lock cost); returns its netuid."""
        call = pb.Call(create_subnet=pb.CreateSubnet(hotkey=hotkey))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(_event(receipt, "SubnetCreated")["netuid"])

    async def burned_register(
        self, coldkey: Signer, netuid: int, hotkey: str, *, timeout: float | None = None
    ) -> int:
        """Register ``hotkey`` on ``netuid`` (pays the burn); returns its uid."""
        call = pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=hotkey))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        for name in ("NeuronRegistered", "NeuronReplaced"):
            for ev in receipt.events:
                if ev.name == name:
                    return int(json.loads(ev.data_json)["uid"])
        raise ChainError("registration receipt has no uid", code="internal")

    async def serve_axon(
        self,
        hotkey: Signer,
        netuid: int,
        ip: str,
        port: int,
        *,
        protocol: int = 4,
        version: int = 0,
        certificate_fingerprint: bytes = b"",
        timeout: float | None = None,
    ) -> pb.Receipt:
        call = pb.Call(
            serve_axon=pb.ServeAxon(
                netuid=netuid,
                ip=ip,
                port=port,
                protocol=protocol,
                version=version,
                certificate_fingerprint=certificate_fingerprint,
            )
        )
        return await self.submit(hotkey, call, timeout=timeout)

    async def add_stake(
        self,
        coldkey: Signer,
        netuid: int,
        hotkey: str,
        amount: int,
        *,
        timeout: float | None = None,
    ) -> int:
        """Stake ``amount`` rao of TAO on ``hotkey``; returns the alpha received."""
        call = pb.Call(add_stake=pb.AddStake(netuid=netuid, hotkey=hotkey, amount=amount))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(_event(receipt, "StakeAdded")["alpha"])

    async def remove_stake(
        self,
        coldkey: Signer,
        netuid: int,
        hotkey: str,
        amount: int,
        *,
        timeout: float | None = None,
    ) -> int:
        """Unstake ``amount`` alpha from ``hotkey``; returns the TAO (rao) received."""
        call = pb.Call(remove_stake=pb.RemoveStake(netuid=netuid, hotkey=hotkey, amount=amount))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(_event(receipt, "StakeRemoved")["tao"])

    async def set_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        *,
        version_key: int = 0,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Set u16 weights directly (subnets with commit-reveal off)."""
        call = pb.Call(
            set_weights=pb.SetWeights(
                netuid=netuid, uids=list(uids), weights=list(weights), version_key=version_key
            )
        )
        return await self.submit(hotkey, call, timeout=timeout)

    async def commit_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        salt: bytes,
        *,
        version_key: int = 0,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Commit the hash of u16 weights; reveal them with the same salt in the reveal epoch."""
        digest = commit_hash(hotkey.ss58, netuid, uids, weights, salt, version_key)
        call = pb.Call(commit_weights=pb.CommitWeights(netuid=netuid, commit_hash=digest))
        return await self.submit(hotkey, call, timeout=timeout)

    async def reveal_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        salt: bytes,
        *,
        version_key: int = 0,
        timeout: float | None = None,
    ) -> pb.Receipt:
        call = pb.Call(
            reveal_weights=pb.RevealWeights(
                netuid=netuid,
                uids=list(uids),
                weights=list(weights),
                salt=salt,
                version_key=version_key,
            )
        )
        return await self.submit(hotkey, call, timeout=timeout)

    async def sudo_set_hyperparameter(
        self, signer: Signer, netuid: int, name: str, value: int, *, timeout: float | None = None
    ) -> pb.Receipt:
        """Set a hyperparameter as the sudo key (any, within bounds) or the subnet owner
        coldkey (owner-settable ones, within the owner's bounds)."""
        call = pb.Call(
            set_hyperparameter=pb.SetHyperparameter(netuid=netuid, name=name, value=value)
        )
        return await self.submit(signer, call, timeout=timeout)

    set_hyperparameter = sudo_set_hyperparameter

    # -- queries ---------------------------------------------------------------------------------
    async def list_subnets(
        self, *, at_block: int = 0, timeout: float | None = None
    ) -> list[pb.SubnetInfo]:
        resp = await self._call("ListSubnets", pb.ListSubnetsRequest(at_block=at_block), timeout)
        return list(resp.subnets)

    async def subnet_info(
        self, netuid: int, *, at_block: int = 0, timeout: float | None = None
    ) -> pb.SubnetInfo:
        request = pb.GetSubnetRequest(netuid=netuid, at_block=at_block)
        resp: pb.GetSubnetResponse = await self._call("GetSubnet", request, timeout)
        return resp.subnet

    async def hyperparameters(
        self, netuid: int, *, at_block: int = 0, timeout: float | None = None
    ) -> dict[str, int]:
        info = await self.subnet_info(netuid, at_block=at_block, timeout=timeout)
        return dict(info.hyperparameters)

    async def neuron(
        self,
        netuid: int,
        *,
        uid: int | None = None,
        hotkey: str | None = None,
        at_block: int = 0,
        timeout: float | None = None,
    ) -> pb.Neuron | None:
        """The neuron at ``uid`` or with ``hotkey`` on ``netuid``; ``None`` if there is none."""
        if (uid is None) == (hotkey is None):
            raise ValueError("give exactly one of uid= or hotkey=")
        request = pb.GetNeuronRequest(netuid=netuid, at_block=at_block)
        if uid is not None:
            request.uid = uid
        else:
            request.hotkey = hotkey or ""
        resp = await self._call("GetNeuron", request, timeout)
        return resp.neuron if resp.found else None

    async def uid_for_hotkey(
        self, netuid: int, hotkey: str, *, timeout: float | None = None
    ) -> int | None:
        found = await self.neuron(netuid, hotkey=hotkey, timeout=timeout)
        return None if found is None else int(found.uid)

    async def stake(
        self,
        netuid: int,
        hotkey: str,
        coldkey: str = "",
        *,
        at_block: int = 0,
        timeout: float | None = None,
    ) -> int:
        """Alpha staked on ``hotkey`` (by ``coldkey``, or by everyone if not given)."""
        resp = await self._call(
            "GetStake",
            pb.GetStakeRequest(netuid=netuid, hotkey=hotkey, coldkey=coldkey, at_block=at_block),
            timeout,
        )
        return int(resp.alpha)

    async def metagraph(
        self,
        netuid: int,
        with_weights: bool = False,
        *,
        at_block: int = 0,
        timeout: float | None = None,
    ) -> Metagraph:
        """A block-stamped snapshot of the subnet in one RPC (W and B with ``with_weights``).

        The tensors are built in a worker thread: with weights at n = 4096 that is ~0.2 s of
        torch work (and the first call imports torch), which the caller's loop should not wait
        out."""
        resp = await self._call(
            "GetMetagraph",
            pb.GetMetagraphRequest(netuid=netuid, with_weights=with_weights, at_block=at_block),
            timeout,
        )
        return await asyncio.to_thread(Metagraph.from_proto, resp.metagraph)


Client = ChainClient
