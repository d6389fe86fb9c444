"""The pipeline every request to a miner goes through, its checks in order.

The pipeline runs cheapest check first, so junk costs as little as possible and nothing is parsed
before it is authenticated:

1. metadata shape (all auth fields present and well formed, canonical caller) and body size
2. freshness of the nonce (``max_age`` back, ``max_skew`` ahead)
3. receiver is this miner's hotkey
4. replay lookup: a (caller, nonce) already seen is refused here, before any signature work
5. blacklist hook (may be async)
6. caller's signature over version, method, receiver, SHA-256 of the body bytes, nonce, caller
7. replay cache: each (caller, nonce) added once, within a per-caller quota of the bounded pool
8. parse the body; per-caller limit; priority queue with per-synapse concurrency, per-caller
   share and a reserve for higher priorities (:mod:`subnetkit.miner.leases`)
9. the handler under the caller's deadline, capped by the miner's (sync handlers in a worker
   thread, which keeps its slot until it returns even when the caller has given up: a thread
   cannot be cancelled; :mod:`subnetkit.miner.handlers`)
10. the signed response (trailing metadata), or a chained-hash trailer for streams

Steps 1-4 need no signature check, so stale, replayed, malformed and mis-addressed requests cost
little more than gRPC's own work (``bench/wire.py`` measures it against a bare abort handler).
In session mode (mutual TLS, docs/protocol.md) the handshake already proved the caller's hotkey:
steps 2, 4, 6 and 7 are skipped, and the response is signed as always. A session stream's
requests (:mod:`subnetkit.miner.session_streams`) enter at step 5 through
:meth:`RequestPipeline.serve_message`, one answer each.

Handlers are registered as raw-bytes gRPC handlers (no (de)serializer), so step 5 hashes the exact
bytes received and the response signature covers the exact bytes sent. Steps 1-4 return an
UNAUTHENTICATED refusal's message rather than raising it: an exception's object, traceback and
unwinding were a measurable share of what such a refusal costs. Every other rejection is a
:class:`~subnetkit.core.errors.WireError`. A call's refusals reach the caller through
:meth:`RequestPipeline._refuse`, which sets the status on the call's context (gRPC's or the
in-process one) rather than aborting.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import grpc
from google.protobuf.message import DecodeError, Message

from subnetkit.core.errors import WireError
from subnetkit.core.keys import Signer
from subnetkit.core.log import ThrottledLog
from subnetkit.miner.base import BoundSynapse, CallContext
from subnetkit.miner.context import ServingContext
from subnetkit.miner.handlers import CallerGone, HandlerRunner
from subnetkit.miner.leases import Leases, PriorityHook
from subnetkit.miner.limits import Limits, refusal
from subnetkit.miner.metrics import BLACKLISTED_CALLER, UNAUTHENTICATED_CALLER, MinerMetrics
from subnetkit.miner.response_signing import ResponseSigner
from subnetkit.miner.sessions import SessionCallers
from subnetkit.protos.session.v1.session_pb2 import SessionRequest, SessionResponse
from subnetkit.wire import protocol
from subnetkit.wire.inprocess import InProcessContext
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull
from subnetkit.wire.request_metadata import read_request_metadata

log = logging.getLogger(__name__)

BlacklistHook = Callable[[str], "str | Awaitable[str | None] | None"]

_S = grpc.StatusCode
#: room for a session answer's envelope within the miner's largest message
_ANSWER_OVERHEAD = 1024


def _trusted(context: object) -> bool:
    """Only a trusted in-process transport's context skips signatures (steps 5 and 9); a gRPC
    context never does (subnetkit.wire.inprocess explains the trusted mode)."""
    return isinstance(context, InProcessContext) and context.trusted


def _gone(context: object) -> bool:
    """True once a gRPC call was cancelled by its caller (in-process calls never are)."""
    cancelled = getattr(context, "cancelled", None)
    return cancelled is not None and bool(cancelled())


def _replay_problem(auth: protocol.RequestAuth) -> str:
    return f"replayed nonce {auth.nonce} from {auth.caller}: sign every request afresh"


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
        sessions: SessionCallers | None = None,
        budget_caps: Mapping[str, float] | None = None,
    ) -> None:
        self.signer = signer
        self.responses = ResponseSigner(signer)  # step 10
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
        self.sessions = sessions
        self._hotkey = signer.ss58
        #: each synapse's longest handler budget by path (Limits.caps_for), else the limits'
        self.budget_caps = budget_caps or {}
        self._count = metrics.tally.observe  # MinerMetrics.observe, one call less per request

    async def serve(
        self, bound: BoundSynapse, body: bytes, context: ServingContext
    ) -> bytes | None:
        """One request through the whole pipeline; unary returns the body, streams write it."""
        started = time.perf_counter()
        caller, status = UNAUTHENTICATED_CALLER, "OK"
        try:
            screened = self._screen(body, context)
            if isinstance(screened, str):  # the cheap refusals: no exception raised
                status = self._refuse(bound, context, _S.UNAUTHENTICATED, screened, caller)
                return None
            auth, checked_at = screened
            body_hash = await self._admit(bound, body, context, auth, checked_at)
            caller = self.metrics.caller_label(auth.caller)
            if checked_at is not None:
                self._check_nonce(auth, checked_at)
            request = self._parse(bound, body)
            budget = self._deadline(context.time_remaining(), bound)
            out, chain = await self._run(bound, request, auth, body_hash, budget, context)
            if _gone(context):  # the caller left while we wrote: nothing left to sign for
                status = "CANCELLED"
                return None
            if _trusted(context):
                context.set_trailing_metadata(((protocol.MD_MINER, self.signer.ss58),))
            else:
                context.set_trailing_metadata(
                    self.responses.trailer(bound, auth, body_hash, out, chain)
                )
            return out
        except WireError as exc:
            if caller == UNAUTHENTICATED_CALLER and exc.status is _S.PERMISSION_DENIED:
                caller = BLACKLISTED_CALLER  # counted as refused by the blacklist, too
            status = self._refuse(bound, context, exc.status, exc.message, caller)
            return None
        except CallerGone:
            status = "CANCELLED"  # the caller left mid-stream: not the miner's failure
            return None
        except asyncio.CancelledError:
            status = self._cancel_status(context)
            raise
        finally:
            self._count(bound.spec.name, caller, status, time.perf_counter() - started)

    async def serve_message(
        self,
        bound: BoundSynapse,
        request: SessionRequest,
        auth: protocol.RequestAuth,
        caller: str,
    ) -> SessionResponse:
        """One request of a session stream (:mod:`subnetkit.miner.session_streams`), whose
        caller the mutual-TLS handshake proved: steps 5 and 8-10, each refusal an answer with
        its status (the stream goes on). ``auth`` is the stream's, with this request's nonce;
        ``caller`` its metrics label. Unlike a call's, the message's deadline is not enforced
        by gRPC, so the handler always runs under a timer here."""
        started = time.perf_counter()
        status = "OK"
        try:
            body = request.body
            if len(body) > self.limits.max_request_bytes:
                raise self._too_large(body)
            body_hash = await self._admit(bound, body, None, auth, None)
            parsed = self._parse(bound, body)
            timeout = request.timeout_ms / 1000 if request.timeout_ms else None
            budget = self._deadline(timeout, bound, grpc_enforces=False)
            out, _ = await self._run(bound, parsed, auth, body_hash, budget)
            out = out or b""
            if len(out) > self.limits.max_response_bytes - _ANSWER_OVERHEAD:
                raise refusal(
                    _S.RESOURCE_EXHAUSTED,
                    f"the response is {len(out)} bytes, over what one session stream answer "
                    f"may hold on this miner (max_response_bytes less {_ANSWER_OVERHEAD}): ask "
                    "for less per request",
                )
            signature = self.responses.sign_unary(bound, auth, body_hash, out)
            return SessionResponse(nonce=auth.nonce, body=out, signature=signature)
        except WireError as exc:
            status = self._log_refusal(bound, caller, exc.status, exc.message)
            code = exc.status.value[0]
            return SessionResponse(nonce=auth.nonce, code=code, details=exc.message)
        except asyncio.CancelledError:
            status = "CANCELLED"  # the caller withdrew it, or left
            raise
        finally:
            self._count(bound.spec.name, caller, status, time.perf_counter() - started)

    def _log_refusal(
        self, bound: BoundSynapse, caller: str, code: grpc.StatusCode, message: str
    ) -> str:
        """Log a refusal (throttled per status and caller class); its status for the count.

        The member's plain attribute: Enum.name is a property, and an Enum key hashes through a
        Python-level __hash__ (both measurable on a refused request)."""
        status: str = code._name_
        self._refusals.log(
            f"{status}/{caller}", "refused a %s caller on %s: %s", caller, bound.spec.name, message
        )
        return status

    def _refuse(
        self,
        bound: BoundSynapse,
        context: ServingContext,
        code: grpc.StatusCode,
        message: str,
        caller: str,
    ) -> str:
        """Refuse a call: log why (:meth:`_log_refusal`), send ``code`` with ``message`` as its
        details, and return the status's name for the request count."""
        status = self._log_refusal(bound, caller, code, message)
        # Set, and the handler returns: gRPC sends this status (and no response message) as
        # ``abort`` would, without raising its AbortError through our frames. That error is
        # kept on the call, its traceback holds the frames and they hold the call: a reference
        # cycle per refused request for the cyclic GC (bench/wire.py measures refusals). The
        # in-process transport reads the status from its context the same way.
        context.set_code(code)
        context.set_details(message)
        return status

    async def _run(
        self,
        bound: BoundSynapse,
        request: Message,
        auth: protocol.RequestAuth,
        body_hash: bytes,
        budget: tuple[float, float, float | None],
        context: ServingContext | None = None,
    ) -> tuple[bytes | None, protocol.ChunkChain | None]:
        """Step 8-9 for an admitted, parsed request: a slot (queued by priority when none is
        free), then the handler under ``budget`` (:meth:`_deadline`). A unary handler's
        response bytes, or a stream's chunk chain (its chunks written to ``context``)."""
        seconds, deadline, enforce_at = budget
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
            if not self.leases.try_enter(lease):  # no free slot: queue by priority
                await self.leases.enter(bound, lease, self.priority)
            if bound.spec.server_streaming:
                assert context is not None  # session streams carry unary synapses only
                chain = protocol.ChunkChain(body_hash)
                await self.runner.stream(
                    bound, request, ctx, lease, chain, context, seconds, enforce_at
                )
                return None, chain
            return await self.runner.unary(bound, request, ctx, lease, seconds, enforce_at), None
        finally:
            lease.release()

    def _screen(
        self, body: bytes, context: ServingContext
    ) -> tuple[protocol.RequestAuth, int | None] | str:
        """Steps 1-4, which need no signature check: the request's shape, freshness, size,
        receiver and the replay lookup. Synchronous and allocation-light on purpose: junk is
        refused here, and a refusal should cost little more than gRPC's own work.

        Returns the auth fields and the clock reading at the freshness check (None in session
        mode, which has no replay window), or why the request is refused as UNAUTHENTICATED
        (returned, not raised: the refusals an attacker can send at will). Rarer refusals
        (an oversized body, a session this miner does not grant) raise a WireError.
        """
        lim = self.limits
        metadata = context.invocation_metadata() or ()
        if self.sessions is not None and protocol.asks_session(metadata):
            auth = self.sessions.admit(metadata, context)
            checked_at: int | None = None
        else:
            checked_at = self._clock()
            read = read_request_metadata(metadata, checked_at, lim.max_age_s, lim.max_skew_s)
            if isinstance(read, str):
                return read
            auth = read
        if len(body) > lim.max_request_bytes:
            raise self._too_large(body)
        if auth.receiver != self._hotkey:
            return protocol.receiver_problem(auth.receiver, self._hotkey)
        if checked_at is not None and self.nonce_cache.seen(auth.caller, auth.nonce):
            return _replay_problem(auth)
        return auth, checked_at

    def _too_large(self, body: bytes) -> WireError:
        return refusal(
            _S.RESOURCE_EXHAUSTED,
            f"request body is {len(body)} bytes, over this miner's limit of "
            f"{self.limits.max_request_bytes}: send less data per request",
        )

    async def _admit(
        self,
        bound: BoundSynapse,
        body: bytes,
        context: object,
        auth: protocol.RequestAuth,
        checked_at: int | None,
    ) -> bytes:
        """Steps 5-6 for a request that passed :meth:`_screen`: the blacklist hook, then the
        caller's signature (none in session mode or for a trusted in-process call). Returns the
        body's hash (the signed response is bound to it)."""
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
        if checked_at is not None and not _trusted(context):
            protocol.verify_request(auth, bound.spec.path, body_hash)
        return body_hash

    def _check_nonce(self, auth: protocol.RequestAuth, checked_at: int) -> None:
        """Step 7, once the caller is authenticated (so its rejections count under its name).
        The entry lives for the whole replay window from the freshness check at ``checked_at``,
        however long the blacklist hook took since."""
        try:
            fresh = self.nonce_cache.check_and_add(auth.caller, auth.nonce, checked_at)
        except NonceCacheFull as exc:
            raise refusal(_S.RESOURCE_EXHAUSTED, str(exc)) from None
        if not fresh:  # a copy verified while this one was in the hooks
            raise refusal(_S.UNAUTHENTICATED, _replay_problem(auth))

    def _parse(self, bound: BoundSynapse, body: bytes) -> Message:
        try:
            return bound.spec.request_cls.FromString(body)
        except DecodeError as exc:
            raise refusal(
                _S.INVALID_ARGUMENT,
                f"request body does not parse as {bound.spec.request_cls.DESCRIPTOR.full_name}: "
                f"{exc}; serialize the synapse's request message",
            ) from None

    def _deadline(
        self, remaining: float | None, bound: BoundSynapse, grpc_enforces: bool = True
    ) -> tuple[float, float, float | None]:
        """(handler budget s, its ``time.monotonic()`` deadline, that deadline again if we must
        enforce it ourselves, else None).

        The budget is what is left of the caller's deadline now, taken once: gRPC's remaining
        time already excludes the time spent admitting the request. When the caller set a
        deadline within the miner's cap (``max_deadline_s``; for streams also
        ``max_stream_s``; either may be set per synapse, ``Limits.synapse_caps``), gRPC itself
        cancels the handler task when it passes, so no timer of ours is needed (it would cost a
        timer per request). Without one, the server's ``default_timeout_s`` is enforced here,
        and so is the cap when the caller asks for more: a caller cannot hold a slot longer
        than the miner allows. A session stream's message (``grpc_enforces=False``) has no call
        of its own for gRPC to cancel, so its budget is always enforced here.
        """
        lim = self.limits
        cap = self.budget_caps.get(bound.spec.path)
        if cap is None:
            cap = lim.caps_for(bound.spec.name, bound.spec.server_streaming)[0]
        now = time.monotonic()
        if remaining is None or remaining > cap:
            budget = min(lim.default_timeout_s, cap) if remaining is None else cap
            return budget, now + budget, now + budget
        budget = max(remaining, 0.0)
        return budget, now + budget, None if grpc_enforces else now + budget

    @staticmethod
    def _cancel_status(context: ServingContext) -> str:
        remaining = context.time_remaining()
        return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"
