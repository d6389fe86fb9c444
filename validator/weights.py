"""When and how a validator puts its scores on chain: set, or commit then reveal.

:class:`WeightSetter` is called once per validator round with the current metagraph and head.
It submits at most every ``interval_blocks`` blocks, and never blindly: before each submission
it checks, from the metagraph, what the chain would check, and says why it is waiting —

* rate limit: ``weights_rate_limit`` blocks since the last set (or commit); the log names the
  block the limit lifts at, instead of the anchor's bare "perhaps it is too soon"; a
  ``rate_limited`` refusal from the chain (which saw a submission this metagraph did not) is
  retried at the block the chain names, not every interval;
* permit: a validator without a validator permit (and not the subnet owner) cannot weight
  others; it logs the typed reason and tries again next interval;
* nothing to say: no miner has a positive score yet, so no weights (a uniform vector would only
  build bonds to miners nobody has checked).

Weights go through the shared pipeline (``chain.weights.process_weights``), the same code the
chain uses to check them. With commit-reveal on, the commit's salt and exact u16 weights are
written to the :class:`~validator.state.CommitStore` *before* the commit is sent and revealed in
the commit's reveal epoch, also after a restart. Every refusal from the chain is logged with its
typed code and the chain's own message (which says what to do); none is swallowed.

Given a :class:`InclusionWatch` (the validator's block follower), a submission does not wait
for inclusion on a wall-clock deadline: it is sent without waiting, then its receipt is looked
up at each new block, for at most ``inclusion_blocks`` blocks. When those blocks pass without
it (e.g. it sits behind a nonce gap after a chain restart dropped the pool) or the block stream
breaks, the wait ends at once, the signer's nonce is re-read, and the next round tries again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import Metagraph
from subnetkit.chain.transition.schedule import (
    legacy_epoch_index,
    legacy_first_block_of_epoch,
)
from subnetkit.chain.weights import WeightsError, process_weights
from subnetkit.core.errors import ChainError, ChainUnavailableError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.validator.scores import ScoreStore
from subnetkit.validator.state import CommitStore, PendingCommit

log = logging.getLogger(__name__)

#: blocks a sent submission may stay out of the chain before it counts as lost
DEFAULT_INCLUSION_BLOCKS = 8


class InclusionWatch(Protocol):
    """What an inclusion wait reads: the head, and the block stream's break count."""

    @property
    def head(self) -> int: ...

    @property
    def breaks(self) -> int: ...

    async def wait_for_change(self, head: int, breaks: int) -> None: ...


@dataclass(frozen=True, slots=True)
class WeightAction:
    """What one call of :meth:`WeightSetter.step` did (for logs, metrics and tests)."""

    kind: str  # set | committed | revealed | waiting | refused
    block: int
    reason: str = ""
    code: str = ""


class WeightSetter:
    """Schedules weight submissions for one validator hotkey on one subnet."""

    def __init__(
        self,
        chain: ChainClient,
        signer: Signer,
        netuid: int,
        commits: CommitStore,
        *,
        interval_blocks: int,
        version_key: int = 0,
        watch: InclusionWatch | None = None,
        inclusion_blocks: int = DEFAULT_INCLUSION_BLOCKS,
    ) -> None:
        self.chain = chain
        self.watch = watch
        self.inclusion_blocks = max(1, inclusion_blocks)
        self.signer = signer
        self.netuid = netuid
        self.commits = commits
        self.interval_blocks = max(1, interval_blocks)
        self.version_key = version_key
        self.last_submit_block = 0
        # No submission before this block: set by every refusal and by waits that know when
        # they end. It holds also before the first successful submission (last_submit_block 0),
        # so a refused first try is not resent every round.
        self._next_try = 0
        # Why weights are held back (the reason last logged), reported again by each waiting
        # round without logging it again.
        self._last_wait_reason = ""
        self._last_wait_code = ""

    # -- one step per round ----------------------------------------------------------------------
    async def step(self, metagraph: Metagraph, head: int, scores: ScoreStore) -> list[WeightAction]:
        """Reveal what is due, then submit new weights if the interval has passed."""
        actions = await self.reveal_due(metagraph, head)
        if head < self._next_try:
            # Still held back for the reason already logged: report it, do not log it again.
            actions.append(
                WeightAction("waiting", head, self._last_wait_reason, self._last_wait_code)
            )
        elif not self.last_submit_block or head - self.last_submit_block >= self.interval_blocks:
            # First chance after start-up, or the interval has passed (the rate-limit preflight
            # in submit() keeps a restarted validator from submitting too soon).
            actions.append(await self.submit(metagraph, head, scores))
        return actions

    def _wait(
        self, head: int, reason: str, code: str, *, retry_at: int | None = None
    ) -> WeightAction:
        """Log a reason to hold back weights, once per distinct reason."""
        if reason != self._last_wait_reason:
            log.info("weights not submitted [%s]: %s", code, reason)
        self._last_wait_reason, self._last_wait_code = reason, code
        if retry_at is not None:
            self._next_try = retry_at
        return WeightAction("waiting", head, reason, code)

    async def submit(self, metagraph: Metagraph, head: int, scores: ScoreStore) -> WeightAction:
        """Set (or commit) weights now if the chain would accept them; else say why not."""
        hotkey = self.signer.ss58
        uid = metagraph.uid_of(hotkey)
        if uid is None:
            return self._wait(
                head,
                f"hotkey {hotkey} is not registered on subnet {self.netuid}; register it again",
                "not_registered",
                retry_at=head + self.interval_blocks,
            )
        commit_reveal = bool(metagraph.hparams.get("commit_reveal_weights_enabled", 0))
        limit = int(metagraph.hparams.get("weights_rate_limit", 0))
        last = self._last_submission(metagraph, uid, commit_reveal)
        inclusion = head + 1  # the earliest block a submission sent now can land in
        if limit and last and inclusion - last < limit:
            until = last + limit
            what = "committed" if commit_reveal else "set"
            return self._wait(
                head,
                f"rate limited until block {until} (weights last {what} at block {last}, "
                f"weights_rate_limit={limit}); now at block {head}",
                "rate_limited",
                retry_at=until - 1,
            )
        is_owner = hotkey == metagraph.owner_hotkey
        if not bool(metagraph.validator_permit[uid]) and not is_owner:
            return self._wait(
                head,
                f"uid {uid} holds no validator permit on subnet {self.netuid} (permits go to the "
                f"top {metagraph.hparams.get('max_allowed_validators', '?')} stakes at each "
                f"epoch): add stake; retrying in {self.interval_blocks} blocks",
                "no_validator_permit",
                retry_at=head + self.interval_blocks,
            )
        uid_of = {hk: i for i, hk in enumerate(metagraph.hotkeys) if i != uid}
        uids, raw = scores.weights_for(uid_of, metagraph.n)
        if not any(w > 0 for w in raw):
            return self._wait(
                head,
                "no miner has a positive score yet; weights wait for answered queries",
                "no_scores",
            )
        try:
            out_uids, values = process_weights(
                uids,
                raw,
                metagraph.n,
                min_allowed_weights=int(metagraph.hparams.get("min_allowed_weights", 0)),
                max_weight_limit=int(metagraph.hparams.get("max_weights_limit", 65535)),
            )
        except WeightsError as exc:
            log.warning(
                "weights cannot be built [%s]: %s; retrying in %d blocks",
                exc.code,
                exc.message,
                self.interval_blocks,
            )
            return self._refusal(head, self.interval_blocks, exc)
        self._last_wait_reason = ""
        self._last_wait_code = ""
        if commit_reveal:
            return await self._commit(metagraph, head, out_uids, values)
        return await self._set(head, out_uids, values)

    def _last_submission(self, metagraph: Metagraph, uid: int, commit_reveal: bool) -> int:
        if commit_reveal:
            pending = [c.commit_block for c in self.commits.pending(self.netuid)]
            return max([self.last_submit_block, *pending])
        return max(self.last_submit_block, int(metagraph.last_update[uid]))

    def _refused(self, head: int, what: str, exc: ChainError) -> WeightAction:
        """Log a chain refusal and hold back until it can succeed.

        Unreachable chain: next round. ``rate_limited`` naming the block the limit lifts at:
        the block before it (a submission sent then lands on it), since the chain knows a
        submission this validator's metagraph did not show. Anything else: one interval.
        """
        if isinstance(exc, ChainUnavailableError):
            retry_in, retry = 1, "retrying next round"
        elif (until := _rate_limited_until(exc)) is not None:
            retry_in = max(1, until - 1 - head)
            retry = f"retrying at block {head + retry_in}"
        else:
            retry_in, retry = self.interval_blocks, f"retrying in {self.interval_blocks} blocks"
        log.warning("%s refused by the chain [%s]: %s; %s", what, exc.code, exc.message, retry)
        return self._refusal(head, retry_in, exc)

    def _refusal(self, head: int, retry_in: int, exc: ChainError) -> WeightAction:
        """Hold submissions back ``retry_in`` blocks; the waiting rounds report this refusal."""
        self._next_try = head + retry_in
        self._last_wait_reason, self._last_wait_code = exc.message, exc.code
        return WeightAction("refused", head, exc.message, exc.code)

    async def _set(self, head: int, uids: list[int], values: list[int]) -> WeightAction:
        try:
            receipt = await self._included(
                "set_weights",
                lambda wait: self.chain.set_weights(
                    self.signer, self.netuid, uids, values, version_key=self.version_key, wait=wait
                ),
            )
        except ChainError as exc:
            return self._refused(head, "set_weights", exc)
        self.last_submit_block = int(receipt.block_number)
        log.info(
            "weights set on subnet %d at block %d for %d uids",
            self.netuid,
            self.last_submit_block,
            len(uids),
        )
        return WeightAction("set", self.last_submit_block)

    async def _commit(
        self, metagraph: Metagraph, head: int, uids: list[int], values: list[int]
    ) -> WeightAction:
        tempo = metagraph.tempo
        period = int(metagraph.hparams.get("reveal_period_epochs", 1))
        inclusion = head + 1
        # A forecast under the legacy rule; the chain's WeightsCommitted event says the real
        # block (the dynamic rule depends on chain state) and replaces it below.
        reveal_at = legacy_first_block_of_epoch(
            self.netuid, tempo, legacy_epoch_index(self.netuid, tempo, inclusion) + period
        )
        pending = PendingCommit.create(
            hotkey=self.signer.ss58,
            netuid=self.netuid,
            uids=uids,
            weights=values,
            version_key=self.version_key,
            commit_block=inclusion,
            reveal_block=reveal_at,
        )
        await self.commits.aadd(pending)  # write-ahead: the salt survives a crash mid-commit
        try:
            receipt = await self._included(
                "commit_weights",
                lambda wait: self.chain.commit_weights(
                    self.signer,
                    self.netuid,
                    uids,
                    values,
                    pending.salt,
                    version_key=self.version_key,
                    wait=wait,
                ),
            )
        except ChainError as exc:
            if not isinstance(exc, ChainUnavailableError):
                await self.commits.aremove(pending.commit_hash)  # never reached the chain state
            return self._refused(head, "commit_weights", exc)
        block = int(receipt.block_number)
        reveal_from = _event_field(receipt, "WeightsCommitted", "reveal_from_block")
        if block != pending.commit_block or (reveal_from is not None and reveal_from != reveal_at):
            pending = dataclasses.replace(
                pending,
                commit_block=block,
                reveal_block=reveal_from if reveal_from is not None else pending.reveal_block,
            )
            await self.commits.aadd(pending)
        self.last_submit_block = block
        log.info(
            "weights committed on subnet %d at block %d; reveal from block %d",
            self.netuid,
            block,
            pending.reveal_block,
        )
        return WeightAction("committed", block)

    async def _included(
        self, what: str, send: Callable[[bool], Awaitable[pb.Receipt]]
    ) -> pb.Receipt:
        """Send a submission and return its receipt once included (raising its typed error).

        Without a watch this is the client's own wait. With one, the wait is bounded by blocks
        and by the stream: ``inclusion_blocks`` new blocks without the receipt, or a break of the
        block stream (chain gone or restarted), end it with ChainUnavailableError and forget
        the nonce, so the retry signs with the chain's fresh nonce.
        """
        watch = self.watch
        if watch is None:
            return await send(True)
        start, breaks = watch.head, watch.breaks
        sent = await send(False)
        last = start + self.inclusion_blocks
        while True:
            seen = watch.head  # read before the lookup: a block landing meanwhile wakes us
            receipt = await self.chain.receipt(sent.extrinsic_hash)
            if receipt is not None:
                return self.chain.check(receipt)
            if watch.breaks != breaks or seen >= last:
                self.chain.forget_nonce(self.signer.ss58)
                why = (
                    "the block stream broke while it waited"
                    if watch.breaks != breaks
                    else f"it was not included in the {self.inclusion_blocks} blocks up to {seen}"
                )
                raise ChainUnavailableError(
                    f"{what} sent at block {start} is given up: {why}; the nonce is re-read "
                    "from the chain for the next try"
                )
            await watch.wait_for_change(seen, breaks)

    async def _send_reveal(self, commit: PendingCommit, wait: bool) -> pb.Receipt:
        return await self.chain.reveal_weights(
            self.signer,
            self.netuid,
            commit.uids,
            commit.weights,
            commit.salt,
            version_key=commit.version_key,
            wait=wait,
        )

    async def reveal_due(self, metagraph: Metagraph, head: int) -> list[WeightAction]:
        """Reveal every stored commit whose reveal window is open at the next block."""
        actions: list[WeightAction] = []
        for commit in self.commits.due(head + 1, self.netuid):
            try:
                receipt = await self._included(
                    "reveal_weights",
                    functools.partial(self._send_reveal, commit),
                )
            except ChainError as exc:
                if exc.code == "reveal_too_early":
                    continue
                if exc.code in ("commit_expired", "no_matching_commit", "commit_reveal_disabled"):
                    await self.commits.aremove(commit.commit_hash)
                log.warning("reveal_weights refused by the chain [%s]: %s", exc.code, exc.message)
                actions.append(WeightAction("refused", head, exc.message, exc.code))
                continue
            await self.commits.aremove(commit.commit_hash)
            block = int(receipt.block_number)
            log.info(
                "weights revealed on subnet %d at block %d (committed at %d)",
                self.netuid,
                block,
                commit.commit_block,
            )
            actions.append(WeightAction("revealed", block))
        return actions


_RATE_LIMITED_UNTIL = re.compile(r"rate limited until block (\d+)")


def _rate_limited_until(exc: ChainError) -> int | None:
    """The block a ``rate_limited`` refusal says the limit lifts at, if its message names one."""
    if exc.code != "rate_limited":
        return None
    match = _RATE_LIMITED_UNTIL.search(exc.message)
    return int(match.group(1)) if match else None


def _event_field(receipt: object, name: str, field: str) -> int | None:
    for event in getattr(receipt, "events", ()):
        if event.name == name:
            value = json.loads(event.data_json).get(field)
            return None if value is None else int(value)
    return None


__all__ = ["DEFAULT_INCLUSION_BLOCKS", "InclusionWatch", "WeightAction", "WeightSetter"]
