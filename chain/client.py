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

from subnetkit.chain.calls import ChainCalls
from subnetkit.chain.connection import DEFAULT_SUBMIT_TIMEOUT, DEFAULT_TIMEOUT, ERROR_KEY
from subnetkit.chain.metagraph import Metagraph
from subnetkit.protos.chain.v1 import chain_pb2 as pb

__all__ = ["DEFAULT_SUBMIT_TIMEOUT", "DEFAULT_TIMEOUT", "ERROR_KEY", "ChainClient"]


class ChainClient(ChainCalls):
    """The chain's typed async client: its connection and calls (:class:`ChainCalls`), and the
    queries of subnets, neurons, stake and metagraphs here."""

    async def list_subnets(
        self, *, at_block: int = 0, timeout: float | None = None
    ) -> list[pb.SubnetInfo]:
        """Every subnet at ``at_block`` (0: head), as ``SubnetInfo`` messages."""
        resp = await self._call("ListSubnets", pb.ListSubnetsRequest(at_block=at_block), timeout)
        return list(resp.subnets)

    async def subnet_info(
        self, netuid: int, *, at_block: int = 0, timeout: float | None = None
    ) -> pb.SubnetInfo:
        """One subnet: owner, tempo, burn, pool, blocks until its next epoch, ..."""
        request = pb.GetSubnetRequest(netuid=netuid, at_block=at_block)
        resp: pb.GetSubnetResponse = await self._call("GetSubnet", request, timeout)
        return resp.subnet

    async def hyperparameters(
        self, netuid: int, *, at_block: int = 0, timeout: float | None = None
    ) -> dict[str, int]:
        """The subnet's hyperparameters as name -> raw integer value."""
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
        """The uid of ``hotkey`` on ``netuid``, or None when it is not registered."""
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

    async def stake_detail(
        self, netuid: int, hotkey: str, coldkey: str, *, timeout: float | None = None
    ) -> pb.GetStakeResponse:
        """A coldkey's stake on a hotkey with the hotkey's total and delegate take (netuid 0:
        root TAO)."""
        resp: pb.GetStakeResponse = await self._call(
            "GetStake", pb.GetStakeRequest(netuid=netuid, hotkey=hotkey, coldkey=coldkey), timeout
        )
        return resp

    async def children(
        self, netuid: int, hotkey: str, *, at_block: int = 0, timeout: float | None = None
    ) -> pb.GetChildrenResponse:
        """``hotkey``'s child keys on ``netuid``: the children it lends stake weight to and the
        parents lending to it (proportions /u64::MAX, as stored), and its childkey take
        (/65535). The only way to see what ``set_children`` / ``set_childkey_take`` left in
        force, since the metagraph shows only their combined effect on stake. A hotkey with
        none has empty lists; ``.childkeys`` is False on a chain that runs without them."""
        resp: pb.GetChildrenResponse = await self._call(
            "GetChildren",
            pb.GetChildrenRequest(netuid=netuid, hotkey=hotkey, at_block=at_block),
            timeout,
        )
        return resp

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
        snapshot = await self.metagraph_snapshot(
            netuid, with_weights, at_block=at_block, timeout=timeout
        )
        return await asyncio.to_thread(Metagraph.from_proto, snapshot)

    async def metagraph_snapshot(
        self,
        netuid: int,
        with_weights: bool = False,
        *,
        at_block: int = 0,
        timeout: float | None = None,
    ) -> pb.MetagraphSnapshot:
        """The same snapshot as :meth:`metagraph`, as the raw message: no torch involved (the
        command line prints it without paying torch's import)."""
        resp = await self._call(
            "GetMetagraph",
            pb.GetMetagraphRequest(netuid=netuid, with_weights=with_weights, at_block=at_block),
            timeout,
        )
        snapshot: pb.MetagraphSnapshot = resp.metagraph
        return snapshot


Client = ChainClient
