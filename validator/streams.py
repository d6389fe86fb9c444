"""Server streams for :class:`~subnetkit.validator.client.MinerClient`: one task per target
feeds a bounded queue, and each target's chunks are capped by count and by held bytes (with a
per-chunk overhead, so a flood of empty chunks is not free) and, in verified mode, held until
the signed trailer checks out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import DecodeError, Message

from subnetkit.validator.results import QueryError, Target, queued_too_long
from subnetkit.wire import protocol

if TYPE_CHECKING:
    from subnetkit.validator.client import MinerClient, _Query

log = logging.getLogger(__name__)

_S = grpc.StatusCode

#: What one held stream chunk costs beyond its bytes (a parsed message object and its slot), so
#: the byte cap also bounds a flood of empty chunks.
CHUNK_OVERHEAD_BYTES = 256

ChunkQueue = asyncio.Queue[tuple[Target, Message | QueryError] | None]


async def fan_in(
    client: MinerClient, targets: Sequence[Target], query: _Query, verified: bool
) -> AsyncIterator[tuple[Target, Message | QueryError]]:
    """Yield ``(target, chunk or error)`` from every target's stream as they come."""
    queue: ChunkQueue = asyncio.Queue(64)
    tasks = [asyncio.ensure_future(_stream_one(client, t, query, queue, verified)) for t in targets]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _stream_one(
    client: MinerClient, target: Target, query: _Query, queue: ChunkQueue, verified: bool
) -> None:
    try:
        error = await _stream_call(client, target, query, queue, verified)
    except Exception as exc:
        log.debug("stream from %s failed", target.hotkey, exc_info=True)
        error = QueryError(_S.UNKNOWN, f"client error: {exc!r}", target.hotkey)
    if error is not None:
        await queue.put((target, error))
    await queue.put(None)


async def _stream_call(
    client: MinerClient, target: Target, query: _Query, queue: ChunkQueue, verified: bool
) -> QueryError | None:
    endpoint = await client._pin(target)
    if isinstance(endpoint, QueryError):
        return endpoint
    remaining = await client._slot(query.deadline)
    if remaining is None:
        return queued_too_long(target)
    spec = query.spec
    held: list[Message] = []  # verified mode: chunks waiting for the trailer
    held_bytes = 0
    try:
        nonce, call = client._start(target, query, remaining, endpoint)
        chain = protocol.ChunkChain(query.body_hash)
        try:
            async for raw in call:
                if chain.count >= client.max_stream_chunks:
                    call.cancel()
                    return QueryError(
                        _S.RESOURCE_EXHAUSTED,
                        f"stream sent more than max_stream_chunks ({client.max_stream_chunks})"
                        " chunks: raise MinerClient's max_stream_chunks or ask for less",
                        target.hotkey,
                    )
                chain.add(raw)
                # Every held chunk costs its bytes plus a fixed overhead (the parsed
                # message object): 50,000 empty chunks are not free to hold.
                held_bytes += len(raw) + CHUNK_OVERHEAD_BYTES
                if verified and held_bytes > client.max_response_bytes:
                    call.cancel()
                    return QueryError(
                        _S.RESOURCE_EXHAUSTED,
                        f"stream held for verification exceeds max_response_bytes "
                        f"({client.max_response_bytes}), counting {CHUNK_OVERHEAD_BYTES} bytes "
                        "of overhead per chunk: raise MinerClient's max_response_bytes, "
                        "ask for fewer or larger chunks, or stream with verified=False",
                        target.hotkey,
                    )
                try:
                    chunk = spec.response_cls.FromString(raw)
                except DecodeError as exc:
                    call.cancel()
                    return QueryError(_S.INTERNAL, f"chunk does not parse: {exc}", target.hotkey)
                if not verified:
                    await queue.put((target, chunk))
                    continue
                held.append(chunk)
            trailer = protocol.metadata_dict(await call.trailing_metadata())
        except grpc.aio.AioRpcError as exc:
            return client._rpc_error(exc, target, query)
    finally:
        client._limit().release()
    if client.verify_responses:
        message = protocol.stream_message(
            version=protocol.PROTOCOL_VERSION,
            method=spec.path,
            caller=client.signer.ss58,
            request_hash=query.body_hash,
            nonce=nonce,
            chunks=chain.count,
            chain_hash=chain.digest,
            miner_crypto=target.crypto,
            miner=target.hotkey,
        )
        error = client._verify(target, trailer, message)
        if error is not None:
            return error
    for chunk in held:
        await queue.put((target, chunk))
    return None
