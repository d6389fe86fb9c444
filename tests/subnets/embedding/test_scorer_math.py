"""The embedding scorer's formula, with a deterministic stand-in for the reference model.

(The real model is exercised in test_reference_model.py; here the arithmetic is checked
exactly and fast.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import Tensor

from subnetkit.core.errors import ConfigError, WireError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.subnets.embedding.codec import encode_request
from subnetkit.subnets.embedding.embedding_pb2 import EmbedRequest, EmbedResponse
from subnetkit.subnets.embedding.engines import RandomEngine, answer_request
from subnetkit.subnets.embedding.scorer import EmbeddingAnswer, EmbeddingScorer
from subnetkit.subnets.embedding.tasks import make_task
from subnetkit.validator.scoring import ScoringRuntime


class HashEmbedder:
    """Deterministic unit vectors per text; counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Tensor:
        self.calls += 1
        rows = []
        for text in texts:
            gen = torch.Generator().manual_seed(sum(map(ord, text)) * 7919 + len(text))
            rows.append(torch.randn(EMBEDDING_DIM, generator=gen))
        return torch.nn.functional.normalize(torch.stack(rows), dim=-1)


async def test_scores_follow_the_documented_formula() -> None:
    embedder = HashEmbedder()
    task = make_task(7, k=4)
    reference = embedder.embed(task.texts).numpy()
    embedder.calls = 0
    orthogonal = np.zeros_like(reference)
    half = reference.copy()
    half[:2] = -reference[:2]  # cos = -1 on two texts, +1 on the other two -> mean 0
    answers = [
        EmbeddingAnswer(reference, latency_s=0.0),  # perfect and instant -> 1.0
        EmbeddingAnswer(reference * 3.0, latency_s=1.0),  # scale-free, half the budget
        EmbeddingAnswer(reference, latency_s=5.0),  # perfect but over budget -> 0.9
        EmbeddingAnswer(orthogonal, latency_s=0.0),  # zero vectors -> 0
        EmbeddingAnswer(half, latency_s=0.0),  # mean cosine 0 -> 0
        EmbeddingAnswer(reference[:3], latency_s=0.0),  # wrong shape -> 0
        None,  # no answer -> 0
    ]
    scorer = EmbeddingScorer(embedder, quality_weight=0.9, latency_budget_s=2.0)
    async with ScoringRuntime(scorer, device="cpu", max_batch=3) as runtime:
        result = await runtime.score(task, answers)
    assert result.scores.tolist() == pytest.approx([1.0, 0.95, 0.9, 0.0, 0.0, 0.0, 0.0], abs=1e-5)
    assert embedder.calls == 1  # three chunks, one reference embedding


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="quality_weight"):
        EmbeddingScorer(HashEmbedder(), quality_weight=1.5)
    with pytest.raises(ConfigError, match="latency_budget_s"):
        EmbeddingScorer(HashEmbedder(), latency_budget_s=0)


async def test_request_to_answer_round_trip_through_the_wire_types() -> None:
    """Miner packs with answer_request, validator unpacks with EmbeddingAnswer.from_response."""
    task = make_task(11, k=5)
    engine = RandomEngine(seed=4)
    reply = await answer_request(engine, encode_request(task.texts))
    wire = EmbedResponse.FromString(reply.SerializeToString())
    answer = EmbeddingAnswer.from_response(wire, task, latency_s=0.3)
    assert answer.vectors.shape == (5, EMBEDDING_DIM)
    assert answer.latency_s == 0.3
    other_task = make_task(11, k=4)
    with pytest.raises(WireError, match="5 embeddings for 4 texts"):
        EmbeddingAnswer.from_response(wire, other_task, latency_s=0.3)
    with pytest.raises(WireError, match="no texts"):
        await answer_request(engine, EmbedRequest())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
async def test_cuda_scores_match_cpu_under_bf16_autocast() -> None:
    task = make_task(3, k=8)
    reference = HashEmbedder().embed(task.texts).numpy()
    rng = np.random.default_rng(0)
    answers = [
        EmbeddingAnswer((reference + rng.normal(0, s, reference.shape)).astype(np.float32), 0.5)
        for s in (0.0, 0.02, 0.05, 0.2)
    ]
    results = {}
    for device in ("cpu", "cuda"):
        async with ScoringRuntime(EmbeddingScorer(HashEmbedder()), device=device) as runtime:
            result = await runtime.score(task, [*answers, None])
        assert result.device.startswith(device)
        results[device] = result.scores
    assert torch.allclose(results["cpu"], results["cuda"], atol=1e-2)
