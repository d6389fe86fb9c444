"""Protocol helpers: metadata shape checks, freshness bounds, the replay cache's bound."""

from __future__ import annotations

import contextlib
import time

import grpc
import pytest

from subnetkit.core.errors import WireError
from subnetkit.core.keys import dev_signer
from subnetkit.wire import protocol, request_metadata
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull

ALICE = dev_signer("alice")
BOB = dev_signer("bob")


def good_metadata() -> list[tuple[str, str | bytes]]:
    return list(
        protocol.sign_request(
            ALICE, method="/x.S/M", receiver=BOB.ss58, body_hash=b"\0" * 32, nonce=time.time_ns()
        )
    )


def test_sign_then_parse_then_verify_roundtrip() -> None:
    md = good_metadata()
    auth = request_metadata.parse_request_metadata(md)
    assert auth.caller == ALICE.ss58 and auth.receiver == BOB.ss58
    protocol.verify_request(auth, "/x.S/M", b"\0" * 32)
    with pytest.raises(WireError, match="bad signature"):
        protocol.verify_request(auth, "/x.S/Other", b"\0" * 32)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("sk-version", "2", "version '2' is not supported"),
        ("sk-caller-crypto", "rsa", "unknown: use sr25519 or ed25519"),
        ("sk-nonce", "-5", "decimal nanosecond"),
        ("sk-nonce", "99999999999999999999", "64 bits"),
        ("sk-signature-bin", b"short", "64 raw bytes"),
    ],
)
def test_malformed_metadata_is_unauthenticated(key: str, value: str | bytes, match: str) -> None:
    md = dict(good_metadata())
    md[key] = value
    with pytest.raises(WireError, match=match) as info:
        request_metadata.parse_request_metadata(md.items())
    assert info.value.status == grpc.StatusCode.UNAUTHENTICATED


def test_freshness_window() -> None:
    now = 1_000 * 10**9
    request_metadata.check_freshness(now - 9 * 10**9, now, 10, 2)
    request_metadata.check_freshness(now + 1 * 10**9, now, 10, 2)
    with pytest.raises(WireError, match="stale"):
        request_metadata.check_freshness(now - 11 * 10**9, now, 10, 2)
    with pytest.raises(WireError, match="future"):
        request_metadata.check_freshness(now + 3 * 10**9, now, 10, 2)


def test_read_returns_the_refusal_that_parse_raises() -> None:
    """The miner's screening reads without raising (read_request_metadata): the message it
    returns is the one parse_request_metadata raises, stale nonce and missing field alike."""
    now = time.time_ns()
    md = good_metadata()
    stale = [(k, str(now - 60 * 10**9) if k == "sk-nonce" else v) for k, v in md]
    unsigned = [(k, v) for k, v in md if k != "sk-signature-bin"]
    for metadata, match in ((stale, "stale request: nonce is 60.0"), (unsigned, "missing")):
        read = request_metadata.read_request_metadata(metadata, now, 10, 2)
        assert isinstance(read, str) and match in read
        with pytest.raises(WireError) as info:
            request_metadata.parse_request_metadata(metadata, now, 10, 2)
        assert info.value.message == read
    assert isinstance(request_metadata.read_request_metadata(md, now, 10, 2), protocol.RequestAuth)


def test_nonce_clock_never_repeats() -> None:
    clock = protocol.NonceClock()
    values = [clock() for _ in range(10_000)]
    assert len(set(values)) == len(values) and values == sorted(values)


def test_response_trailer_checks() -> None:
    message = b"signed response"
    trailer = protocol.metadata_dict(protocol.response_trailer(BOB, message))
    assert (
        protocol.check_response_trailer(trailer, miner=BOB.ss58, crypto="sr25519", message=message)
        is None
    )
    assert "forged" in (
        protocol.check_response_trailer(trailer, miner=BOB.ss58, crypto="sr25519", message=b"other")
        or ""
    )
    assert "expected the target's hotkey" in (
        protocol.check_response_trailer(
            trailer, miner=ALICE.ss58, crypto="sr25519", message=message
        )
        or ""
    )
    assert "not signed" in (
        protocol.check_response_trailer({}, miner=BOB.ss58, crypto="sr25519", message=message) or ""
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_nonce_cache_rejects_second_use_and_expires() -> None:
    clock = FakeClock()
    cache = NonceCache(ttl_s=12, capacity=10, clock=clock)
    assert cache.check_and_add("a", 1)
    assert not cache.check_and_add("a", 1)
    assert cache.check_and_add("b", 1)  # nonces are per caller
    clock.now = 12 * 10**9
    assert cache.check_and_add("c", 2)  # triggers expiry of the first two
    assert len(cache) == 1


def test_nonce_cache_memory_is_bounded_under_flood() -> None:
    clock = FakeClock()
    cache = NonceCache(ttl_s=12, capacity=1000, clock=clock)
    shed = 0
    for i in range(50_000):
        clock.now = i * 10**5  # 10,000 requests per simulated second
        try:
            cache.check_and_add("flood", i)
        except NonceCacheFull:
            shed += 1
        assert len(cache) <= 1000
    assert shed > 0  # refused rather than forgetting live nonces
    clock.now += 13 * 10**9
    assert cache.check_and_add("late", 1)
    assert len(cache) == 1


def test_nonce_cache_quota_keeps_one_caller_from_starving_others() -> None:
    clock = FakeClock()
    cache = NonceCache(ttl_s=12, capacity=10, per_caller=3, clock=clock)
    for nonce in range(3):
        assert cache.check_and_add("greedy", nonce)
    with pytest.raises(NonceCacheFull, match=r"caller greedy has 3 .*quota 3 per 12 s"):
        cache.check_and_add("greedy", 3)
    assert not cache.check_and_add("greedy", 0)  # a replay is still a replay, not a quota miss
    for caller in ("b", "c"):
        for nonce in range(3):
            assert cache.check_and_add(caller, nonce)
    assert cache.check_and_add("d", 0)
    with pytest.raises(NonceCacheFull, match="nonce cache full"):
        cache.check_and_add("e", 0)  # the hard capacity still bounds the pool
    clock.now = 12 * 10**9
    assert cache.check_and_add("greedy", 99)  # expiry returns the caller's share
    assert cache.live("greedy") == 1 and cache.live("b") == 0


def test_nonce_cache_flood_from_one_caller_leaves_room_for_others() -> None:
    clock = FakeClock()
    cache = NonceCache(ttl_s=12, capacity=1000, clock=clock)  # default quota: a quarter
    for i in range(20_000):
        clock.now = i * 10**5
        with contextlib.suppress(NonceCacheFull):
            cache.check_and_add("flood", i)
        assert len(cache) <= 1000
    assert cache.live("flood") == 250
    for caller in ("honest-1", "honest-2", "honest-3"):
        for nonce in range(250):
            assert cache.check_and_add(caller, nonce)
    assert len(cache._counts) == 4  # per-caller bookkeeping is bounded by live entries
    clock.now += 13 * 10**9
    assert cache.check_and_add("late", 1)
    assert len(cache) == 1 and len(cache._counts) == 1
