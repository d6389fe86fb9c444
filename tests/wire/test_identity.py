"""Identity is the public key, not its text: other SS58 spellings of a key are refused."""

from __future__ import annotations

import grpc
import pytest

from subnetkit.core import ss58
from subnetkit.core.keys import dev_signer, verify
from subnetkit.miner import MinerServer
from subnetkit.subnets.echo import echo_pb2
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import raw_unary, signed_metadata

S = grpc.StatusCode
ALICE, BOB, CHARLIE = dev_signer("alice"), dev_signer("bob"), dev_signer("charlie")


@pytest.mark.parametrize("prefix", [0, 2, 42, 255, 1000, 16383])
def test_ss58_round_trips_every_prefix_to_the_same_key(prefix: int) -> None:
    spelled = ss58.encode(ALICE.public_key, prefix)
    assert ss58.decode(spelled) == (prefix, ALICE.public_key)
    assert ss58.canonical_ss58(spelled) == ALICE.ss58
    assert ss58.is_canonical(spelled) == (prefix == 42)


def test_known_polkadot_spelling_and_corruption() -> None:
    polkadot = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"  # //Alice, prefix 0
    assert ss58.encode(ALICE.public_key, 0) == polkadot
    assert verify(polkadot, b"m", ALICE.sign(b"m"))  # why text identity was a hole
    assert ss58.decode(polkadot[:-1] + "6") is None  # checksum
    assert ss58.decode("0OIl" * 12) is None  # not base58


async def test_deny_listed_key_in_another_spelling_is_not_a_new_caller() -> None:
    def deny_alice(caller: str) -> str | None:
        return "deny-listed" if caller == ALICE.ss58 else None

    body = echo_pb2.EchoRequest(text="hi").SerializeToString()
    async with MinerServer(ScriptedMiner(), BOB, blacklist=deny_alice) as server:
        for prefix in (0, 2, 7):
            other = ss58.encode(ALICE.public_key, prefix)
            md = signed_metadata(ALICE, body, server.hotkey, claim=other)
            reply = await raw_unary(server.port, body, md)
            assert reply.code == S.UNAUTHENTICATED, (prefix, reply)
            assert "not in canonical form" in reply.details and ALICE.ss58 in reply.details
        # No quota, replay entry or metric label was made for the other spellings.
        assert len(server.nonce_cache) == 0
        labels = {
            s.labels.get("caller")
            for m in server.metrics.registry.collect()
            for s in m.samples
            if "caller" in s.labels
        }
        assert labels <= {"unauthenticated"}
        denied = await raw_unary(server.port, body, signed_metadata(ALICE, body, server.hotkey))
        assert denied.code == S.PERMISSION_DENIED
        served = await raw_unary(server.port, body, signed_metadata(CHARLIE, body, server.hotkey))
        assert served.code == S.OK
