"""The gRPC face of the chain (``subnetkit.chain.v1.Chain``).

:func:`_rpc` is the single choke point where errors become gRPC statuses: a
:class:`subnetkit.core.errors.SubnetkitError` aborts with its status, the message
``"<code>: <message>"`` and the trailing metadata ``x-chain-error: <code>``; anything else is
logged and becomes INTERNAL. Handlers themselves only raise.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeAlias, TypeVar

import grpc

from subnetkit.chain import queries
from subnetkit.chain.errors import chain_error
from subnetkit.chain.handlers import ERROR_KEY
from subnetkit.chain.mempool import Pending
from subnetkit.chain.node import ChainNode
from subnetkit.chain.store import corrupt
from subnetkit.chain.transition import mechanisms
from subnetkit.chain.transition.schedule import schedule_of
from subnetkit.core.errors import ChainError, SubnetkitError
from subnetkit.core.keys import is_valid_ss58
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.protos.chain.v1 import chain_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
T = TypeVar("T")
RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")
Handler: TypeAlias = Callable[["ChainServicer", RequestT, Context], Awaitable[ResponseT]]


async def _abort(context: Context, exc: BaseException) -> NoReturn:
    if isinstance(exc, SubnetkitError):
        await context.abort(exc.status, f"{exc.code}: {exc.message}", ((ERROR_KEY, exc.code),))
    log.exception("chain RPC failed", exc_info=exc)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal: {type(exc).__name__}: {exc}",
        ((ERROR_KEY, "internal"),),
    )


def _rpc(fn: Handler[RequestT, ResponseT]) -> Handler[RequestT, ResponseT]:
    @functools.wraps(fn)
    async def wrapper(self: ChainServicer, request: RequestT, context: Context) -> ResponseT:
        try:
            return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc)

    return wrapper


def _address(value: str, what: str) -> str:
    """``value`` if it is an SS58 address; else ``bad_address`` (never a silent zero balance)."""
    if not is_valid_ss58(value):
        raise chain_error(
            "bad_address", f"{what} {value[:64]!r} is not a valid SS58 address; check the key"
        )
    return value


async def _stored(node: ChainNode, read: Awaitable[T], doing: str) -> T:
    """``await read`` (a read of the store), its storage faults typed and logged once."""
    try:
        return await read
    except sqlite3.Error as exc:
        raise node.store.read_fault(exc, doing) from None
    except ChainError as exc:
        if exc.code != "state_corrupt":
            raise
        raise node.store.read_fault(exc, doing) from None


class ChainServicer(pb_grpc.ChainServicer):
    def __init__(
        self,
        node: ChainNode,
        *,
        manual: bool,
        block_time: float,
        produce: Callable[[int], Awaitable[list[pb.Block]]],
    ) -> None:
        self.node = node
        self.manual = manual
        self.block_time = block_time
        self._produce = produce

    async def _query(
        self, context: Context, at_block: int, fn: Callable[[Any, int, bytes], T]
    ) -> T:
        """``node.query`` for this RPC's caller: the connection it came in on (its share)."""
        return await self.node.query(at_block, fn, caller=context.peer())

    # -- extrinsics ----------------------------------------------------------------------------
    @staticmethod
    async def _result(item: Pending | Exception, wait: bool) -> pb.SubmitResult:
        if isinstance(item, SubnetkitError):
            return pb.SubmitResult(error_code=item.code, error_message=item.message)
        assert isinstance(item, Pending)
        result = pb.SubmitResult(extrinsic_hash=item.ext.hash)
        if wait:
            try:
                result.receipt.CopyFrom(await asyncio.shield(item.future))
            except SubnetkitError as exc:
                result.error_code, result.error_message = exc.code, exc.message
        return result

    @_rpc
    async def SubmitExtrinsic(
        self, request: pb.SubmitExtrinsicRequest, context: Any
    ) -> pb.SubmitExtrinsicResponse:
        (item,) = await self.node.submit([request.extrinsic])
        if isinstance(item, Exception):
            raise item
        response = pb.SubmitExtrinsicResponse(extrinsic_hash=item.ext.hash)
        if request.wait_for_inclusion:
            response.receipt.CopyFrom(await asyncio.shield(item.future))
        return response

    @_rpc
    async def SubmitExtrinsics(
        self, request: pb.SubmitExtrinsicsRequest, context: Any
    ) -> pb.SubmitExtrinsicsResponse:
        items = await self.node.submit(list(request.extrinsics))
        results = [await self._result(item, request.wait_for_inclusion) for item in items]
        return pb.SubmitExtrinsicsResponse(results=results)

    @_rpc
    async def GetReceipt(
        self, request: pb.GetReceiptRequest, context: Any
    ) -> pb.GetReceiptResponse:
        receipt = await _stored(
            self.node,
            self.node.receipt(request.extrinsic_hash, wait=request.wait),
            f"reading the receipt of {request.extrinsic_hash.hex()[:64]}",
        )
        if receipt is None:
            return pb.GetReceiptResponse(found=False)
        return pb.GetReceiptResponse(found=True, receipt=receipt)

    # -- blocks --------------------------------------------------------------------------------
    @_rpc
    async def GetChainInfo(
        self, request: pb.GetChainInfoRequest, context: Any
    ) -> pb.GetChainInfoResponse:
        node = self.node
        head = node.head  # the block the query reads: taken with no await in between

        def read(state: Any, number: int, block_hash: bytes) -> pb.GetChainInfoResponse:
            # Through the node's query: issuance and lock cost of the same block as the head
            # (read on the loop, they could come from a block being applied in a worker).
            on = mechanisms.enabled(state)
            return pb.GetChainInfoResponse(
                genesis_hash=node.genesis_hash,
                head=head,
                block_time_s=self.block_time,
                manual=self.manual,
                dev=node.genesis.dev,
                sudo=node.genesis.sudo or "",
                total_issuance=int(state.get("sys", ("issuance",), 0)),
                kept_blocks=node.store.keep_blocks,
                subnet_lock_cost=int(state.get("sys", ("lock_cost",), 0)),
                epoch_schedule=schedule_of(state),
                root="root" in on,
                delegation="delegation" in on,
                childkeys="childkeys" in on,
                tao_weight=mechanisms.tao_weight(state),
                root_stake=mechanisms.root_total(state),
            )

        return await self._query(context, 0, read)

    @_rpc
    async def GetHead(self, request: pb.GetHeadRequest, context: Any) -> pb.GetHeadResponse:
        return pb.GetHeadResponse(head=self.node.head)

    @_rpc
    async def GetBlock(self, request: pb.GetBlockRequest, context: Any) -> pb.GetBlockResponse:
        if request.number > self.node.head.number:  # also keeps 2**63.. away from SQLite
            raise chain_error(
                "block_not_found",
                f"no block {request.number}: the head is {self.node.head.number}",
            )
        return pb.GetBlockResponse(block=await self._stored_block(request.number))

    async def _stored_block(self, number: int) -> pb.Block:
        """Block ``number`` (at or below the head) from the store; a fault is typed, logged once."""
        doing = f"reading block {number}"
        block = await _stored(self.node, self.node.store.get_block(number), doing)
        if block is None:  # blocks are kept forever: one at or below the head must be there
            where = f"block {number} is missing from {self.node.store.path}"
            raise self.node.store.read_fault(
                corrupt(f"{where} (the head is {self.node.head.number})"), doing
            )
        return block

    @_rpc
    async def ProduceBlocks(
        self, request: pb.ProduceBlocksRequest, context: Any
    ) -> pb.ProduceBlocksResponse:
        if not self.manual:
            raise chain_error(
                "not_manual",
                "this chain produces blocks on a timer; start it in manual mode to produce "
                "blocks on request",
            )
        count = request.count or 1
        if count > 10_000:
            raise chain_error("bad_argument", "produce at most 10000 blocks per call")
        produced = await self._produce(count)
        return pb.ProduceBlocksResponse(headers=[b.header for b in produced])

    async def StreamBlocks(
        self, request: pb.StreamBlocksRequest, context: Context
    ) -> AsyncIterator[pb.StreamBlocksResponse]:
        queue = self.node.subscribe()
        try:
            last = 0
            if request.from_block:
                if request.from_block > self.node.head.number + 1:
                    await _abort(
                        context,
                        chain_error(
                            "block_not_found",
                            f"from_block {request.from_block} is beyond the head "
                            f"{self.node.head.number}",
                        ),
                    )
                number = request.from_block
                while number <= self.node.head.number:  # stored blocks first, then live ones
                    try:
                        block = await self._stored_block(number)
                    except ChainError as exc:
                        await _abort(context, exc)
                    last = number
                    number += 1
                    yield pb.StreamBlocksResponse(block=block)
            while True:
                latest = await queue.get()
                if latest is None:
                    await _abort(
                        context,
                        chain_error(
                            "shutting_down",
                            "the chain is stopping or this stream fell too far behind; "
                            "reconnect with from_block",
                        ),
                    )
                if latest.header.number <= last:
                    continue
                last = latest.header.number
                yield pb.StreamBlocksResponse(block=latest)
        finally:
            self.node.unsubscribe(queue)

    # -- state queries -------------------------------------------------------------------------
    @_rpc
    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Any
    ) -> pb.GetAccountResponse:
        _address(request.address, "address")
        return await self._query(
            context, request.at_block, lambda s, b, h: queries.account(s, request.address, b)
        )

    @_rpc
    async def ListSubnets(
        self, request: pb.ListSubnetsRequest, context: Any
    ) -> pb.ListSubnetsResponse:
        return await self._query(
            context,
            request.at_block,
            lambda s, b, h: pb.ListSubnetsResponse(subnets=queries.list_subnets(s, b), block=b),
        )

    @_rpc
    async def GetSubnet(self, request: pb.GetSubnetRequest, context: Any) -> pb.GetSubnetResponse:
        def read(s: Any, b: int, h: bytes) -> pb.GetSubnetResponse:
            return pb.GetSubnetResponse(
                subnet=queries.subnet_info(s, queries.subnet_record(s, request.netuid), b)
            )

        return await self._query(context, request.at_block, read)

    @_rpc
    async def GetNeuron(self, request: pb.GetNeuronRequest, context: Any) -> pb.GetNeuronResponse:
        who = request.WhichOneof("who")
        uid = request.uid if who == "uid" else None
        hotkey = _address(request.hotkey, "hotkey") if who == "hotkey" else None

        def read(s: Any, b: int, h: bytes) -> pb.GetNeuronResponse:
            found = queries.find_neuron(s, request.netuid, uid=uid, hotkey=hotkey)
            if found is None:
                return pb.GetNeuronResponse(found=False, block=b)
            return pb.GetNeuronResponse(found=True, neuron=found, block=b)

        return await self._query(context, request.at_block, read)

    @_rpc
    async def GetStake(self, request: pb.GetStakeRequest, context: Any) -> pb.GetStakeResponse:
        _address(request.hotkey, "hotkey")
        if request.coldkey:
            _address(request.coldkey, "coldkey")
        return await self._query(
            context,
            request.at_block,
            lambda s, b, h: queries.stake_response(
                s, request.netuid, request.hotkey, request.coldkey, b
            ),
        )

    @_rpc
    async def GetChildren(
        self, request: pb.GetChildrenRequest, context: Any
    ) -> pb.GetChildrenResponse:
        _address(request.hotkey, "hotkey")
        return await self._query(
            context,
            request.at_block,
            lambda s, b, h: queries.children_response(s, request.netuid, request.hotkey, b),
        )

    @_rpc
    async def GetMetagraph(
        self, request: pb.GetMetagraphRequest, context: Any
    ) -> pb.GetMetagraphResponse:
        return await self._query(
            context,
            request.at_block,
            lambda s, b, h: pb.GetMetagraphResponse(
                metagraph=queries.metagraph(s, request.netuid, b, h, request.with_weights)
            ),
        )
