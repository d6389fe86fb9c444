"""The embedding wire codec and the seeded task generator (no model needed)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import torch

from subnetkit.core.errors import ConfigError, WireError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.subnets.embedding.codec import (
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    decode_embeddings,
    encode_embeddings,
    encode_request,
)
from subnetkit.subnets.embedding.embedding_pb2 import EmbedRequest, EmbedResponse
from subnetkit.subnets.embedding.tasks import corpus, make_task


def test_embeddings_round_trip_through_the_proto_bytes() -> None:
    vectors = np.random.default_rng(0).standard_normal((5, EMBEDDING_DIM)).astype(np.float32)
    wire = EmbedResponse.FromString(encode_embeddings(vectors).SerializeToString())
    assert (wire.count, wire.dim) == (5, EMBEDDING_DIM)
    assert len(wire.vectors) == 5 * EMBEDDING_DIM * 4
    decoded = decode_embeddings(wire, count=5)
    np.testing.assert_array_equal(decoded, vectors)
    from_tensor = decode_embeddings(encode_embeddings(torch.from_numpy(vectors)), count=5)
    np.testing.assert_array_equal(from_tensor, vectors)


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (
            EmbedResponse(count=3, dim=EMBEDDING_DIM, vectors=b"\0" * (3 * EMBEDDING_DIM * 4)),
            "count",
        ),
        (EmbedResponse(count=2, dim=8, vectors=b"\0" * (2 * 8 * 4)), "dim"),
        (EmbedResponse(count=2, dim=EMBEDDING_DIM, vectors=b"\0" * 12), "size"),
    ],
)
def test_malformed_answers_are_invalid_argument(response: EmbedResponse, code: str) -> None:
    with pytest.raises(WireError) as info:
        decode_embeddings(response, count=2)
    assert info.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert code in info.value.code


def test_non_finite_answer_is_rejected() -> None:
    vectors = np.zeros((2, EMBEDDING_DIM), dtype=np.float32)
    vectors[1, 3] = np.nan
    with pytest.raises(WireError, match="NaN"):
        decode_embeddings(encode_embeddings(vectors), count=2)


def test_request_limits() -> None:
    assert list(encode_request(["a", "b"]).texts) == ["a", "b"]
    with pytest.raises(WireError, match="no texts"):
        encode_request([])
    with pytest.raises(WireError, match=f"at most {MAX_TEXTS}"):
        encode_request(["x"] * (MAX_TEXTS + 1))
    with pytest.raises(WireError, match=f"at most {MAX_TEXT_CHARS}"):
        encode_request(["x" * (MAX_TEXT_CHARS + 1)])
    assert isinstance(encode_request(["a"]), EmbedRequest)


def test_corpus_is_large_varied_and_stable() -> None:
    texts = corpus()
    assert len(texts) >= 200
    assert len(set(texts)) == len(texts)
    assert corpus() is texts  # built once per process


def test_tasks_are_deterministic_in_the_seed() -> None:
    first, again, other = make_task(42, k=8), make_task(42, k=8), make_task(43, k=8)
    assert first == again
    assert first.texts != other.texts
    assert len(set(first.texts)) == 8
    assert set(first.texts) <= set(corpus())
    with pytest.raises(ConfigError, match="between 1 and"):
        make_task(1, k=0)
