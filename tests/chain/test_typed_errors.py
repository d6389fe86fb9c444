"""Hostile requests get a precise gRPC status and an ``x-chain-error`` code, never INTERNAL or
UNKNOWN, and never a silent reinterpretation; the chain keeps serving after each."""

from __future__ import annotations

import grpc
import pytest

from subnetkit.chain.extrinsic import signing_payload
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, ChainHarness

S = grpc.StatusCode
METHOD = "/subnetkit.chain.v1.Chain/"


def _code(exc: grpc.aio.AioRpcError) -> str:
    found = [v for k, v in exc.trailing_metadata() or () if k == "x-chain-error"]
    return str(found[0]) if found else ""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint(number << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


async def _raw(chain: ChainHarness, method: str, body: bytes) -> grpc.aio.AioRpcError:
    call = chain.client._channel.unary_unary(METHOD + method)  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(body, timeout=10)
    return info.value


async def _serving(chain: ChainHarness) -> None:
    assert (await chain.client.transfer(chain.alice, chain.bob.ss58, 1)).success


@pytest.mark.parametrize("number", [2**63, 2**64 - 1])
async def test_get_block_far_beyond_the_head_is_not_found(chain: ChainHarness, number: int) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chain.client.stub.GetBlock(pb.GetBlockRequest(number=number), timeout=10)
    assert (info.value.code(), _code(info.value)) == (S.NOT_FOUND, "block_not_found")
    assert "head is" in (info.value.details() or "")
    await _serving(chain)


@pytest.mark.parametrize(
    "method,body",
    [
        ("GetAccount", b"\xff\xff\xff\xff"),  # a key varint that never ends
        ("SubmitExtrinsic", b"\x0a\x40abc"),  # a length running past the end
        ("GetBlock", _field(1, 0, _varint(2**64 + 1))),  # a 65-bit number
        ("GetAccount", _field(1, 2, b"\xc3\x28")),  # invalid UTF-8 in a string
    ],
)
async def test_a_garbage_body_is_invalid_argument_with_a_code(
    chain: ChainHarness, method: str, body: bytes
) -> None:
    exc = await _raw(chain, method, body)
    assert (exc.code(), _code(exc)) == (S.INVALID_ARGUMENT, "bad_request"), exc.details()
    assert "bad_request: " in (exc.details() or "")
    await _serving(chain)


async def test_a_65_bit_amount_is_refused_not_read_as_1_rao(chain: ChainHarness) -> None:
    c = chain.client
    alice, dest = chain.alice, Signer.generate().ss58
    transfer = _field(1, 2, dest.encode()) + _field(2, 0, _varint(2**64 + 1))
    number = pb.Call.DESCRIPTOR.fields_by_name["transfer"].number
    call = _field(number, 2, transfer)
    assert pb.Call.FromString(call).transfer.amount == 1  # what protobuf alone would execute
    nonce = await c.nonce(alice.ss58)
    genesis = await c.genesis_hash()
    payload = signing_payload(genesis, alice.ss58, alice.crypto, nonce, call)
    ext = pb.Extrinsic(
        signer=alice.ss58,
        crypto=alice.crypto,
        nonce=nonce,
        call=call,
        signature=alice.sign(payload),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await c.stub.SubmitExtrinsic(pb.SubmitExtrinsicRequest(extrinsic=ext), timeout=10)
    assert (info.value.code(), _code(info.value)) == (S.INVALID_ARGUMENT, "bad_call")
    assert "does not fit" in (info.value.details() or "")
    assert await c.balance(dest) == 0 and await c.nonce(alice.ss58) == nonce
    await _serving(chain)


async def test_an_unknown_field_in_a_call_is_refused(chain: ChainHarness) -> None:
    c = chain.client
    call = pb.Call(transfer=pb.Transfer(dest=chain.bob.ss58, amount=TAO)).SerializeToString()
    call += _field(999, 0, _varint(1))
    nonce, genesis = await c.nonce(chain.alice.ss58), await c.genesis_hash()
    payload = signing_payload(genesis, chain.alice.ss58, chain.alice.crypto, nonce, call)
    ext = pb.Extrinsic(
        signer=chain.alice.ss58, nonce=nonce, call=call, signature=chain.alice.sign(payload)
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await c.stub.SubmitExtrinsic(pb.SubmitExtrinsicRequest(extrinsic=ext), timeout=10)
    assert (info.value.code(), _code(info.value)) == (S.INVALID_ARGUMENT, "bad_call")
    await _serving(chain)


@pytest.mark.parametrize(
    "method,message",
    [
        ("GetAccount", pb.GetAccountRequest(address="not-an-address")),
        ("GetAccount", pb.GetAccountRequest(address="")),
        ("GetStake", pb.GetStakeRequest(netuid=0, hotkey="5xyz", coldkey="")),
        ("GetNeuron", pb.GetNeuronRequest(netuid=0, hotkey="nope")),
        ("GetChildren", pb.GetChildrenRequest(netuid=0, hotkey="5xyz")),
    ],
)
async def test_an_invalid_address_is_refused_not_a_zero_balance(
    chain: ChainHarness, method: str, message: object
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await getattr(chain.client.stub, method)(message, timeout=10)
    assert (info.value.code(), _code(info.value)) == (S.INVALID_ARGUMENT, "bad_address")
    await _serving(chain)
