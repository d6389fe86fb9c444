"""The pipeline every request to a miner goes through, its checks in order.

The pipeline runs cheapest check first, so junk costs as little as possible and nothing is parsed
before it is authenticated:

1. metadata shape (all auth fields present and well formed) and body size
2. freshness of the nonce (``max_age`` back, ``max_skew`` ahead)
3. receiver is this miner's hotkey
4. blacklist hook (may be async)
5. caller's signature over version, method, receiver, SHA-256 of the body bytes, nonce, caller
6. replay cache: each (caller, nonce) once, within a per-caller quota of the bounded pool
7. parse the body; per-caller limit; priority queue with per-synapse concurrency
   (:mod:`subnetkit.miner.leases`)
8. the handler under the caller's deadline (sync handlers in a worker thread, which keeps its
   slot until it returns even when the caller has given up: a thread cannot be cancelled;
   :mod:`subnetkit.miner.handlers`)
9. the signed response (trailing metadata), or a chained-hash trailer for streams

Handlers are registered as raw-bytes gRPC handlers (no (de)serializer), so step 5 hashes the exact
bytes received and the response signature covers the exact bytes sent. Every rejection is a
:class:`~subnetkit.core.errors.WireError` mapped to its gRPC status at one place,
:meth:`RequestPipeline._reject`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

import grpc
from google.protobuf.message import DecodeError, Message

from subnetkit.core.errors import WireError
from subnetkit.core.keys import Signer
from subnetkit.core.log import ThrottledLog
from subnetkit.miner.base import BoundSynapse, CallContext
from subnetkit.miner.context import ServingContext
from subnetkit.miner.handlers import HandlerRunner
from subnetkit.miner.leases import Leases, PriorityHook
from subnetkit.miner.limits import Limits, refusal
from subnetkit.miner.metrics import BLACKLISTED_CALLER, UNAUTHENTICATED_CALLER, MinerMetrics
from subnetkit.wire import protocol
from subnetkit.wire.inprocess import InProcessContext
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull

log = logging.getLogger(__name__)

BlacklistHook = Callable[[str], "str | Awaitable[str | None] | None"]

_S = grpc.StatusCode


def _trusted(context: object) -> bool:
    """Only a trusted in-process transport's context skips signatures (steps 5 and 9); a gRPC
    context never does (subnetkit.wire.inprocess explains the trusted mode)."""
    return isinstance(context, InProcessContext) and context.trusted


class RequestPipeline:
    """Steps 1-9 for one miner: ``serve`` is the raw-bytes gRPC handler of every synapse.

    ``blacklist`` and ``priority`` are the hooks in force; they may be swapped at runtime and
    apply to requests admitted (or queued) from then on.
    """

    def __init__(
        self,
        signer: Signer,
        limits: Limits,
        *,
        blacklist: BlacklistHook,
        priority: PriorityHook,
        nonce_cache: NonceCache,
        leases: Leases,
        runner: HandlerRunner,
        metrics: MinerMetrics,
        clock: Callable[[], int],
    ) -> None:
        self.signer = signer
        self.limits = limits
        self.blacklist = blacklist
        self.priority = priority
        self.nonce_cache = nonce_cache
        self.leases = leases
        self.runner = runner
        self.metrics = metrics
        self._clock = clock
        # why callers are refused: one line per status and caller class every 10 s at most
        self._refusals = ThrottledLog(log, 10.0)

    async def serve(
        self, bound: BoundSynapse, body: bytes, context: ServingContext
    ) -> bytes | None:
        """One request through the whole pipeline; unary returns the body, streams write it."""
        started = time.perf_counter()
        caller, status = UNAUTHENTICATED_CALLER, "OK"
        try:
            auth, body_hash = await self._admit(bound, body, context)
            caller = self.metrics.caller_label(auth.caller)
            self._check_nonce(auth)
            request = self._parse(bound, body)
            budget, deadline, enforce_at = self._deadline(context)
            ctx = CallContext(
                caller=auth.caller,
                caller_crypto=auth.caller_crypto,
                nonce=auth.nonce,
                method=bound.spec.path,
                synapse=bound.spec.name,
                deadline=deadline,
            )
            lease = self.leases.take(bound, auth.caller)
            try:
                await self.leases.enter(bound, lease, self.priority)
                chain: protocol.ChunkChain | None = None
                out: bytes | None = None
                if bound.spec.server_streaming:
                    chain = protocol.ChunkChain(body_hash)
                    await self.runner.stream(
                        bound, request, ctx, lease, chain, context, budget, enforce_at
                    )
                else:
                    out = await self.runner.unary(bound, request, ctx, lease, budget, enforce_at)
            finally:
                lease.release()
            if _trusted(context):
                context.set_trailing_metadata(((protocol.MD_MINER, self.signer.ss58),))
            else:
                context.set_trailing_metadata(
                    self._signed_trailer(bound, auth, body_hash, out, chain)
                )
            return out
        except WireError as exc:
            status = exc.status.name
            if caller == UNAUTHENTICATED_CALLER and exc.status is _S.PERMISSION_DENIED:
                caller = BLACKLISTED_CALLER  # refused by the blacklist, before the signature
            self._refusals.log(
                f"{status}/{caller}",
                "refused a %s caller on %s: %s",
                caller,
                bound.spec.name,
                exc.message,
            )
            await self._reject(context, exc)
        except asyncio.CancelledError:
            status = self._cancel_status(context)
            raise
        finally:
            self.metrics.observe(bound.spec.name, caller, status, time.perf_counter() - started)

    async def _admit(
        self, bound: BoundSynapse, body: bytes, context: ServingContext
    ) -> tuple[protocol.RequestAuth, bytes]:
        """Steps 1-5: the request's shape, freshness, receiver, caller and signature."""
        lim = self.limits
        auth = protocol.parse_request_metadata(context.invocation_metadata() or ())
        if len(body) > lim.max_request_bytes:
            raise refusal(
                _S.RESOURCE_EXHAUSTED,
                f"request body is {len(body)} bytes, over this miner's limit of "
                f"{lim.max_request_bytes}: send less data per request",
            )
        protocol.check_freshness(auth.nonce, self._clock(), lim.max_age_s, lim.max_skew_s)
        protocol.check_receiver(auth.receiver, self.signer.ss58)
        try:
            reason = self.blacklist(auth.caller)
            if reason is not None and inspect.isawaitable(reason):
                reason = await reason
        except Exception:
            log.exception("blacklist hook failed for %s; refusing the request", auth.caller)
            raise refusal(_S.INTERNAL, "the miner's blacklist check failed; try later") from None
        if reason is not None:
            raise refusal(_S.PERMISSION_DENIED, f"caller {auth.caller} is blacklisted: {reason}")
        body_hash = protocol.sha256(body)
        if not _trusted(context):
            protocol.verify_request(auth, bound.spec.path, body_hash)
        return auth, body_hash

    def _check_nonce(self, auth: protocol.RequestAuth) -> None:
        """Step 6, once the caller is authenticated (so its rejections count under its name)."""
        try:
            fresh = self.nonce_cache.check_and_add(auth.caller, auth.nonce)
        except NonceCacheFull as exc:
            raise refusal(_S.RESOURCE_EXHAUSTED, str(exc)) from None
        if not fresh:
            raise refusal(
                _S.UNAUTHENTICATED,
                f"replayed nonce {auth.nonce} from {auth.caller}: sign every request afresh",
            )

    def _parse(self, bound: BoundSynapse, body: bytes) -> Message:
        try:
            return bound.spec.request_cls.FromString(body)
        except DecodeError as exc:
            raise refusal(
                _S.INVALID_ARGUMENT,
                f"request body does not parse as {bound.spec.request_cls.DESCRIPTOR.full_name}: "
                f"{exc}; serialize the synapse's request message",
            ) from None

    def _deadline(self, context: ServingContext) -> tuple[float, float, float | None]:
        """(handler budget s, its ``time.monotonic()`` deadline, that deadline again if we must
        enforce it ourselves, else None).

        The budget is what is left of the caller's deadline now, taken once: gRPC's remaining
        time already excludes the time spent admitting the request. When the caller set a
        deadline, gRPC itself cancels the handler task when it passes, so no timer of ours is
        needed (it would cost a timer per request); without one, the server's
        ``default_timeout_s`` is enforced here.
        """
        remaining = context.time_remaining()
        now = time.monotonic()
        if remaining is None:
            budget = self.limits.default_timeout_s
            return budget, now + budget, now + budget
        budget = max(remaining, 0.0)
        return budget, now + budget, None

    @staticmethod
    def _cancel_status(context: ServingContext) -> str:
        remaining = context.time_remaining()
        return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"

    async def _reject(self, context: ServingContext, exc: WireError) -> NoReturn:
        await context.abort(exc.status, exc.message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _signed_trailer(
        self,
        bound: BoundSynapse,
        auth: protocol.RequestAuth,
        body_hash: bytes,
        out: bytes | None,
        chain: protocol.ChunkChain | None,
    ) -> tuple[tuple[str, str | bytes], ...]:
        """Step 9: the miner's signature over a unary body (``out``) or a stream's ``chain``."""
        if chain is not None:
            message = protocol.stream_message(
                version=auth.version,
                method=bound.spec.path,
                caller=auth.caller,
                request_hash=body_hash,
                nonce=auth.nonce,
                chunks=chain.count,
                chain_hash=chain.digest,
                miner_crypto=self.signer.crypto,
                miner=self.signer.ss58,
            )
            return protocol.response_trailer(self.signer, message, chunks=chain.count)
        message = protocol.response_message(
            version=auth.version,
            method=bound.spec.path,
            caller=auth.caller,
            request_hash=body_hash,
            nonce=auth.nonce,
            response_hash=protocol.sha256(out or b""),
            miner_crypto=self.signer.crypto,
            miner=self.signer.ss58,
        )
        return protocol.response_trailer(self.signer, message)
