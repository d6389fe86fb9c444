"""``Validator`` (what a subnet defines) and ``ValidatorNeuron`` (the loop that runs it).

A subnet's validator says four things: which RPC to call (``method = (echo_pb2, "Echo.Echo")``),
what to ask this round (:meth:`Validator.make_task` + :meth:`Validator.build_request`), how to
turn one miner's reply into something its scorer reads (:meth:`Validator.to_answer`), and how
to score a round: a plain :meth:`Validator.score` method, or :meth:`Validator.make_scorer` for a
PyTorch model. Everything else is the neuron's:

1. start-up: connect, check registration, load the metagraph, follow blocks (metagraph
   refreshed on subnet events and each epoch, never polled), resume scores and pending commits
   from the state directory;
2. one round per new block: pick up to ``validator.sample_size`` serving miners (not itself),
   query them concurrently with the signed fan-out client, score the answers on the scoring
   runtime's worker thread (time logged and exported), and fold the scores into the hotkey-keyed
   moving averages of exactly the miners queried (unqueried decay only if configured);
3. weights every ``validator.weights_interval_blocks`` blocks through
   :class:`validator.weights.WeightSetter` (rate limit, permit, commit-reveal with persisted salts),
   stepped in a task of their own, one step in flight at a time: a round never waits on a
   submission (one stuck behind a chain restart would otherwise stop querying and scoring), and
   the inclusion wait ends after a few blocks or when the block stream breaks;
4. a replaced or deregistered hotkey's score is dropped on the refresh that shows it.

Scores are saved after every round (atomic JSON), so a restarted validator resumes where it was.

By default a validator serves no axon: it only dials miners, so it puts no endpoint on chain
(its entry keeps the empty axon it was registered with) and ignores the ``axon`` settings. With
``axon.tls`` it has a TLS identity: a certificate bound to its hotkey (kept in its state
directory), served on ``axon.host:port`` (:class:`validator.identity.IdentityEndpoint`) and
announced on chain as an identity endpoint, which no validator queries as a miner. Miners that
require client TLS fetch and trust it; the validator presents it on every TLS connection, and
with ``validator.session`` sends those miners requests unsigned (docs/protocol.md, Session mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message

from subnetkit.chain import endpoints
from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import Metagraph, MetagraphDiff
from subnetkit.chain.sync import MetagraphSync
from subnetkit.core import tracing
from subnetkit.core.errors import ConfigError, SubnetkitError
from subnetkit.core.neuron import NeuronBase, check_axon, register_command
from subnetkit.core.settings import NeuronSettings
from subnetkit.validator.base import AnswerT, ReplyT, TaskT, Validator
from subnetkit.validator.client import MinerClient, QueryResult, Target
from subnetkit.validator.identity import (
    IdentityEndpoint,
    serve_identity,
    warn_without_identity,
)
from subnetkit.validator.metrics import ValidatorMetrics
from subnetkit.validator.round_summary import RoundSummary
from subnetkit.validator.scores import SCORES_FILE, ScoreStore
from subnetkit.validator.scoring import RoundScores, ScoringError, ScoringRuntime
from subnetkit.validator.state import CommitStore
from subnetkit.validator.weights import WeightAction, WeightSetter
from subnetkit.wire import tls

log = logging.getLogger(__name__)

COMMITS_FILE = "commits.json"
#: seconds without a finished round after which ``/healthz`` reports unhealthy
HEALTH_STALE_S = 120.0


class ValidatorNeuron(NeuronBase):
    """Runs ``validator`` for ``settings.netuid`` (see the module docstring).

    ``chain`` may be a connected client to share; ``rng`` makes miner sampling reproducible;
    ``round_blocks`` is how many new blocks separate two rounds (1: a round per block).
    """

    role = "validator"

    def __init__(
        self,
        validator: Validator[Any, Any, Any],
        settings: NeuronSettings,
        *,
        chain: ChainClient | None = None,
        rng: random.Random | None = None,
        round_blocks: int = 1,
        **kwargs: Any,
    ) -> None:
        if settings.axon.tls:
            check_axon(settings.axon, self.role)
        elif settings.validator.session:
            raise ConfigError(
                "validator.session needs axon.tls: session mode runs over mutual TLS, with a "
                "certificate bound to this validator's hotkey; set axon.tls = true too"
            )
        super().__init__(settings, **kwargs)
        self.validator = validator
        self._own_chain = chain is None
        self.chain = chain or ChainClient(settings.chain.endpoint, timeout=settings.chain.timeout)
        self.sync = MetagraphSync(self.chain, settings.netuid)
        self.rng = rng or random.Random(secrets.randbits(64))
        self.round_blocks = max(1, round_blocks)
        cfg = settings.validator
        self.scores = ScoreStore.load(
            self.state_dir / SCORES_FILE,
            alpha=cfg.moving_average_alpha,
            decay_unqueried=cfg.moving_average_alpha if cfg.decay_unqueried else None,
        )
        self.commits = CommitStore(self.state_dir / COMMITS_FILE)
        self.weights = WeightSetter(
            self.chain,
            self.signer,
            settings.netuid,
            self.commits,
            interval_blocks=cfg.weights_interval_blocks,
            version_key=validator.version_key,
            watch=self.sync,
        )
        self.metrics = ValidatorMetrics(self.registry)
        self.client: MinerClient | None = None
        self.certificate: tls.HotkeyCertificate | None = None
        self.identity: IdentityEndpoint | None = None
        self.runtime: ScoringRuntime | None = None
        self.uid: int | None = None
        self.round_block = 0  # the head block of the last finished round
        self._round_done = asyncio.Condition()
        self.last_round: RoundScores | None = None
        self.last_actions: list[WeightAction] = []
        self._weight_task: asyncio.Task[None] | None = None
        self._started_at = time.monotonic()
        self.health_stale_s = HEALTH_STALE_S
        self._round_finished_at: float | None = None
        # one INFO line a minute about the rounds, never one per block
        self.summary = RoundSummary(interval=60.0)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start_on_chain(self) -> None:
        settings = self.settings
        self.uid = uid = await self.registered_uid(self.chain)
        self.sync.subscribe(self._on_metagraph)
        await self.sync.refresh()
        dropped = self.scores.retain(self.sync.metagraph.hotkeys)
        if dropped:
            log.info("dropped %d scores of hotkeys no longer on subnet", len(dropped))
        cfg = settings.validator
        if settings.axon.tls:
            self.identity = await serve_identity(
                self.chain, self.signer, self.sync, uid, settings.axon, self.state_dir
            )
            self.certificate = self.identity.certificate
        else:
            warn_without_identity(self.sync.metagraph.axons)
        self.client = MinerClient(
            self.signer,
            tls_certificate=self.certificate,
            session=cfg.session,
            session_verify_sample=cfg.session_verify_sample,
            session_streams=cfg.session_streams,
        )
        self.runtime = ScoringRuntime(
            self.validator.make_scorer(settings),
            device=settings.device,
            devices=cfg.devices or None,
            max_batch=cfg.max_batch,
            precision=cfg.precision,
            cpu_threads=1 if settings.torch_device == "cpu" else None,
            registry=self.registry,
        )
        await self.runtime.prepare()
        self.spawn_until_stopped(self.sync.run(), name=f"validator-{uid}-sync")
        log.info(
            "validator uid %d (%s) started on subnet %d, scoring on %s: %d miners scored so far",
            uid,
            self.hotkey,
            settings.netuid,
            ",".join(str(d) for d in self.runtime.devices),
            len(self.scores),
        )

    async def close(self) -> None:
        task = self._weight_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.client is not None:
            await self.client.close()
        if self.identity is not None:
            await self.identity.stop(self.graceful_shutdown_timeout)
        if self.runtime is not None:
            self.runtime.close()
        if self._own_chain:
            await self.chain.close()
        await super().close()

    async def run(self) -> None:
        """One round per ``round_blocks`` new blocks, until stopped."""
        seen = self.sync.head
        while not self.stopping:
            head = await self.sync.wait_for_head(seen + self.round_blocks - 1)
            seen = head
            await self.round(head)

    # -- one round -------------------------------------------------------------------------------
    def pick_miners(self, metagraph: Metagraph) -> list[Target]:
        """Up to ``sample_size`` serving miners other than this validator, sampled at random
        (another validator's identity endpoint is not a miner)."""
        serving = [
            axon
            for axon in metagraph.axons
            if endpoints.serves_synapses(axon) and axon.hotkey != self.hotkey
        ]
        size = min(self.settings.validator.sample_size, len(serving))
        chosen = self.rng.sample(serving, size) if size < len(serving) else serving
        return [
            Target(
                a.hotkey,
                a.ip,
                a.port,
                tls_fingerprint=a.certificate_fingerprint,
                offers_session=endpoints.requires_client_tls(a),
            )
            for a in chosen
        ]

    async def round(self, head: int) -> RoundScores | None:
        """Query, score, update, maybe submit weights. Returns the round's scores (None: no
        miner to query, the scorer failed, or the round hit an unexpected error).

        A validator must not die from one bad round: an unexpected exception (a bug in the
        subnet's task code, a broken reply the scorer chokes on, ...) is logged with its
        traceback and the loop goes on with the next block. Weights are still stepped after a
        failed query, so a flaky round never starves the chain of weights; the step runs in its
        own task and the round does not wait for it (a round whose head finds a step still in
        flight starts none). Only cancellation (shutdown) goes through.
        """
        result: RoundScores | None = None
        targets: list[Target] = []
        try:
            targets = self.pick_miners(self.sync.metagraph)
            if targets:
                with tracing.span("validator.round", block=head, miners=len(targets)):
                    result = await self._query_and_score(targets)
        except Exception:
            log.exception("round at block %d failed; no score changed, continuing", head)
        if targets and result is None:
            self.metrics.failed_rounds.inc()
        self._start_weight_step(head)
        async with self._round_done:
            self.round_block = max(self.round_block, head)
            self._round_done.notify_all()
        self._round_finished_at = time.monotonic()
        self.metrics.last_round_block.set(self.round_block)
        self.summary.add(result, len(targets))
        return result

    def _start_weight_step(self, head: int) -> None:
        """Step weights for ``head`` in a task of its own, unless a step is still in flight."""
        if self._weight_task is not None and not self._weight_task.done():
            return
        self._weight_task = asyncio.create_task(
            self._weight_step(head, self.sync.metagraph), name=f"validator-weights-{head}"
        )

    async def _weight_step(self, head: int, metagraph: Metagraph) -> None:
        try:
            actions = await self.weights.step(metagraph, head, self.scores)
        except SubnetkitError as exc:
            log.warning("weight step failed [%s]: %s", exc.code, exc.message)
            actions = []
        except Exception:
            log.exception("weight step at block %d failed; retrying next round", head)
            actions = []
        self.last_actions = actions
        for action in actions:
            self.metrics.weights.labels(action.kind).inc()

    @property
    def weights_in_flight(self) -> bool:
        """Whether a weight step (a submission waiting for inclusion, say) is running."""
        return self._weight_task is not None and not self._weight_task.done()

    async def wait_weights(self, timeout: float | None = None) -> None:
        """Wait until the weight step in flight (if any) has finished (tests, harnesses)."""
        task = self._weight_task
        if task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)

    async def _query_and_score(self, targets: Sequence[Target]) -> RoundScores | None:
        assert self.client is not None and self.runtime is not None
        task = self.validator.make_task(self.rng.getrandbits(63))
        request = self.validator.build_request(task)
        results = await self.client.query(
            targets, self.validator.method, request, timeout=self.settings.validator.timeout
        )
        answers = [self._answer(task, r) for r in results]
        try:
            scored = await self.runtime.score(task, answers)
        except ScoringError as exc:
            log.error("scorer failed, round skipped (no score changed): %s", exc.message)
            return None
        hotkeys = [t.hotkey for t in targets]
        self.scores.update_round(hotkeys, scored.scores)
        await self.scores.asave()
        answered = sum(a is not None for a in answers)
        self.metrics.rounds.inc()
        self.metrics.scoring_seconds.observe(scored.seconds)
        self.metrics.answered.set(answered)
        self.metrics.queried.set(len(targets))
        self.last_round = scored
        failures = {
            r.target.hotkey[:8]: r.error.status.name for r in results if r.error is not None
        }
        log.debug(
            "round %d: %d/%d miners answered, scored on %s in %.1f ms%s",
            self.scores.round,
            answered,
            len(targets),
            scored.device,
            scored.seconds * 1000,
            f"; failed: {failures}" if failures else "",
        )
        return scored

    def _answer(self, task: Any, result: QueryResult[Message]) -> Any | None:
        if result.error is not None or result.response is None:
            return None
        try:
            return self.validator.to_answer(task, result)
        except SubnetkitError as exc:
            log.info("answer of %s rejected: %s", result.target.hotkey, exc.message)
            return None

    async def wait_round(self, block: int, timeout: float | None = None) -> None:
        """Wait until a round for head ``block`` (or later) has finished (tests, harnesses)."""
        async with asyncio.timeout(timeout), self._round_done:
            await self._round_done.wait_for(lambda: self.round_block >= block)

    # -- metagraph changes -----------------------------------------------------------------------
    async def _on_metagraph(self, old: Metagraph, new: Metagraph, change: MetagraphDiff) -> None:
        forgotten = [old_hk for _, old_hk, _ in change.replaced] + list(change.deregistered)
        dropped = [hk for hk in dict.fromkeys(forgotten) if self.scores.reset(hk)]
        if dropped:
            log.info("reset scores of %d replaced/deregistered hotkeys", len(dropped))
            await self.scores.asave()
        if self.hotkey in change.deregistered:
            log.error(
                "this validator's hotkey %s was deregistered from subnet %d; re-register: %s",
                self.hotkey,
                self.settings.netuid,
                register_command(self.settings),
            )
        self.uid = new.uid_of(self.hotkey)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while rounds keep finishing: unhealthy when none finished (or none yet since
        start-up) for ``health_stale_s`` seconds (chain gone, miners gone, or the loop stuck)."""
        ok, doc = super().health()
        now = time.monotonic()
        last = self._round_finished_at
        since = now - (last if last is not None else self._started_at)
        doc.update(
            head=self.sync.head,
            last_round_block=self.round_block,
            rounds=self.scores.round,
            seconds_since_round=round(since, 1) if last is not None else None,
        )
        if ok and since > self.health_stale_s:
            what = "no round finished" if last is not None else "no round yet"
            return False, {**doc, "status": f"{what} for {since:.0f} s"}
        return ok, doc

    def ready_info(self) -> dict[str, Any]:
        info = super().ready_info()
        endpoint = self.metrics_endpoint
        info["port"] = endpoint.port if endpoint is not None else None
        info["tls_port"] = self.identity.port if self.identity is not None else None
        info["uid"] = self.uid
        return info


__all__ = ["AnswerT", "ReplyT", "TaskT", "Validator", "ValidatorMetrics", "ValidatorNeuron"]
