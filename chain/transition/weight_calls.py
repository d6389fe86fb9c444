"""Setting weights directly, and the commit-reveal path (on by default, as in subtensor).

Order of checks follows subtensor's ``internal_set_weights`` (docs/epoch.md §4): length, subnet,
registration, version key, rate limit, then the shared weight checks of :mod:`chain.weights`
(duplicates, range, permit, minimum count, max weight limit). Stored values are max-upscaled to
u16 and ``last_update`` moves to this block.

Commit-reveal (hash based): ``commit_weights`` stores ``commit_hash(...)`` with its block and
epoch index; the matching ``reveal_weights`` is accepted only during epoch index
``commit_epoch + reveal_period_epochs`` (earlier: too early; later: expired). Rate limits apply to
commits; a hotkey may hold at most ``MAX_PENDING_COMMITS`` unrevealed commits.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

from subnetkit.chain.commit_reveal import commit_hash
from subnetkit.chain.errors import fail
from subnetkit.chain.records import Commits, encode_int_pairs
from subnetkit.chain.transition.context import Ctx
from subnetkit.chain.transition.schedule import epoch_index, first_block_of_epoch
from subnetkit.protos.chain.v1 import chain_pb2 as pb

MAX_PENDING_COMMITS = 10


def _check_rate(ctx: Ctx, last: int, limit: int, what: str) -> None:
    if limit and last and ctx.block - last < limit:
        raise fail(
            "rate_limited",
            f"{what} at block {last}; weights_rate_limit is {limit} blocks: rate limited until "
            f"block {last + limit}",
        )


def _apply_weights(
    ctx: Ctx,
    netuid: int,
    uids: Sequence[int],
    values: Sequence[int],
    version_key: int,
    *,
    rate_limited: bool,
) -> None:
    from subnetkit.chain.weights import WeightsError, check_weights, max_upscale_u16

    if len(uids) != len(values):
        raise fail(
            "length_mismatch",
            f"{len(uids)} uids but {len(values)} weights; give one weight per uid",
        )
    sn = ctx.subnet(netuid)
    uid = ctx.registered_uid(netuid, ctx.signer)
    if version_key < sn.hp("weights_version_key"):
        raise fail(
            "weights_version_too_old",
            f"version_key {version_key} is older than subnet {netuid}'s weights_version_key "
            f"{sn.hp('weights_version_key')}; upgrade the validator",
        )
    nrn = ctx.neuron(netuid, uid)
    if rate_limited:
        _check_rate(ctx, nrn.last_update, sn.hp("weights_rate_limit"), "weights last set")
    if max(values, default=0) > 65535:
        raise fail("bad_argument", "weights are u16 values: each must be in 0..65535")
    try:
        check_weights(
            list(uids),
            list(values),
            caller_uid=uid,
            n=sn.n,
            has_permit=nrn.validator_permit,
            is_owner=ctx.signer == sn.owner_hotkey,
            min_allowed_weights=sn.hp("min_allowed_weights"),
            max_weight_limit=sn.hp("max_weights_limit"),
        )
    except WeightsError as exc:
        raise fail(exc.code, exc.message) from None
    stored = max_upscale_u16(list(values))
    row = tuple(sorted(zip(map(int, uids), map(int, stored), strict=True)))
    # Supplying the row's bytes (one %d format over its ints) halves the cost of encoding a
    # 4096-entry row at the block's flush.
    encoded = encode_int_pairs(list(itertools.chain.from_iterable(row)))
    ctx.state.put("weights", (netuid, uid), row, encoded=encoded)
    ctx.set_neuron(netuid, uid, replace(nrn, last_update=ctx.block))
    ctx.emit("WeightsSet", netuid=netuid, uid=uid, hotkey=ctx.signer, count=len(row))


def set_weights(ctx: Ctx, call: pb.SetWeights) -> None:
    sn = ctx.subnet(call.netuid)
    if sn.hp("commit_reveal_weights_enabled"):
        raise fail(
            "commit_reveal_enabled",
            f"subnet {call.netuid} uses commit-reveal: commit_weights now and reveal_weights "
            "in the reveal epoch (or the owner sets commit_reveal_weights_enabled=0)",
        )
    _apply_weights(
        ctx, call.netuid, list(call.uids), list(call.weights), call.version_key, rate_limited=True
    )


def _live_commits(ctx: Ctx, netuid: int, hotkey: str) -> Commits:
    """The hotkey's commits that can still be revealed (expired ones dropped)."""
    sn = ctx.subnet(netuid)
    period = sn.hp("reveal_period_epochs")
    now = epoch_index(ctx.state, sn, ctx.block)
    commits: Commits = ctx.state.get("commits", (netuid, hotkey), ())
    return tuple(c for c in commits if c[2] + period >= now)


def commit_weights(ctx: Ctx, call: pb.CommitWeights) -> None:
    sn = ctx.subnet(call.netuid)
    uid = ctx.registered_uid(call.netuid, ctx.signer)
    if not sn.hp("commit_reveal_weights_enabled"):
        raise fail(
            "commit_reveal_disabled",
            f"subnet {call.netuid} has commit-reveal off: use set_weights",
        )
    if len(call.commit_hash) != 32:
        raise fail("bad_argument", "commit_hash must be the 32-byte chain.commit_reveal hash")
    commits = _live_commits(ctx, call.netuid, ctx.signer)
    last = max((c[1] for c in commits), default=0)
    _check_rate(ctx, last, sn.hp("weights_rate_limit"), "weights last committed")
    if len(commits) >= MAX_PENDING_COMMITS:
        raise fail(
            "too_many_commits",
            f"{len(commits)} unrevealed commits pending; reveal or let them expire first",
        )
    index = epoch_index(ctx.state, sn, ctx.block)
    entry = (bytes(call.commit_hash).hex(), ctx.block, index)
    ctx.state.put("commits", (call.netuid, ctx.signer), (*commits, entry))
    reveal_at = first_block_of_epoch(
        ctx.state, sn, ctx.block, index + sn.hp("reveal_period_epochs")
    )
    ctx.emit("WeightsCommitted", netuid=call.netuid, uid=uid, reveal_from_block=reveal_at)


def reveal_weights(ctx: Ctx, call: pb.RevealWeights) -> None:
    sn = ctx.subnet(call.netuid)
    ctx.registered_uid(call.netuid, ctx.signer)
    if not sn.hp("commit_reveal_weights_enabled"):
        raise fail(
            "commit_reveal_disabled",
            f"subnet {call.netuid} has commit-reveal off: use set_weights",
        )
    wanted = commit_hash(
        ctx.signer,
        call.netuid,
        list(call.uids),
        list(call.weights),
        bytes(call.salt),
        call.version_key,
    ).hex()
    all_commits: Commits = ctx.state.get("commits", (call.netuid, ctx.signer), ())
    match = next((c for c in all_commits if c[0] == wanted), None)
    if match is None:
        raise fail(
            "no_matching_commit",
            "no pending commit matches these uids, weights, salt and version_key; reveal "
            "exactly what was committed (same salt) or commit again",
        )
    period = sn.hp("reveal_period_epochs")
    now = epoch_index(ctx.state, sn, ctx.block)
    due = match[2] + period
    if now < due:
        raise fail(
            "reveal_too_early",
            f"committed in epoch {match[2]}; reveal from block "
            f"{first_block_of_epoch(ctx.state, sn, ctx.block, due)} (epoch {due})",
        )
    if now > due:
        raise fail(
            "commit_expired",
            f"the reveal window for this commit was epoch {due}, now it is epoch {now}; commit "
            "again",
        )
    remaining = tuple(c for c in all_commits if c is not match and c[2] + period >= now)
    if remaining:
        ctx.state.put("commits", (call.netuid, ctx.signer), remaining)
    else:
        ctx.state.delete("commits", (call.netuid, ctx.signer))
    _apply_weights(
        ctx, call.netuid, list(call.uids), list(call.weights), call.version_key, rate_limited=False
    )
    ctx.emit("WeightsRevealed", netuid=call.netuid, hotkey=ctx.signer)
