"""The real all-MiniLM-L6-v2 reference model: offline loading, and good > noisy > random.

The model is loaded once for the module (CPU), with every non-loopback connection refused
while it loads, so a hidden hub download would fail the test instead of passing silently.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from subnetkit.subnets.embedding import EMBEDDING_DIM, model
from subnetkit.subnets.embedding.engines import GoodEngine, NoisyEngine, RandomEngine, make_engine
from subnetkit.subnets.embedding.scorer import EmbeddingAnswer, EmbeddingScorer
from subnetkit.subnets.embedding.tasks import make_task
from subnetkit.validator.scoring import WORKER_THREAD_PREFIX, ScoringBatch, ScoringRuntime

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _refuse_remote(original: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in _LOOPBACK and not host.startswith("/"):
            raise OSError(f"test forbids network access to {address!r}")
        return original(self, address)

    return connect


@pytest.fixture(scope="module")
def reference() -> Iterator[model.ReferenceModel]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_remote(socket.socket.connect))
        patch.setattr(socket.socket, "connect_ex", _refuse_remote(socket.socket.connect_ex))
        model._cache.clear()  # really load here, under the network guard
        loaded = model.load_reference_model("cpu")
    yield loaded


def test_model_loads_offline_from_the_package(reference: model.ReferenceModel) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert model.model_path().name == "model"
    assert model.load_reference_model("cpu") is reference  # once per process
    vectors = reference.embed(["one sentence", "another one"])
    assert vectors.shape == (2, EMBEDDING_DIM)
    assert vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-4)


def test_embeddings_are_semantic(reference: model.ReferenceModel) -> None:
    cat, rug, rates = reference.embed(
        [
            "The cat sat on the mat.",
            "A kitten was sitting on the rug.",
            "Interest rates rose again this quarter.",
        ]
    )
    assert float(cat @ rug) > float(cat @ rates) + 0.3


class ThreadRecordingScorer(EmbeddingScorer):
    """The real scorer, noting which thread each batch ran on."""

    def __init__(self) -> None:
        super().__init__(latency_budget_s=2.0)
        self.threads: set[str] = set()

    def forward(self, batch: ScoringBatch) -> Tensor:
        self.threads.add(threading.current_thread().name)
        return super().forward(batch)


async def test_good_beats_noisy_beats_random_by_clear_margins(
    reference: model.ReferenceModel,
) -> None:
    engines = [
        GoodEngine(reference),
        NoisyEngine(reference, seed=1),
        RandomEngine(seed=2),
    ]
    scorer = ThreadRecordingScorer()
    totals = np.zeros(len(engines))
    async with ScoringRuntime(scorer, device="cpu") as runtime, asyncio.timeout(60):
        assert await runtime.prepare() >= 0.0  # reference model resolved on the worker
        for seed in range(3):
            task = make_task(seed, k=8)
            vectors = await asyncio.gather(*(e.aembed(task.texts) for e in engines))
            answers = [EmbeddingAnswer(v, latency_s=0.2) for v in vectors]
            result = await runtime.score(task, [*answers, None])
            assert result.scores[-1] == 0.0
            totals += result.scores[:-1].numpy()
    good, noisy, rand = totals / 3
    assert good > 0.95
    assert good - noisy > 0.15, (good, noisy)
    assert noisy - rand > 0.4, (noisy, rand)
    assert rand < 0.1
    assert scorer.reference is reference  # prepare() picked up the process-wide model
    (thread,) = scorer.threads
    assert thread.startswith(WORKER_THREAD_PREFIX)


def test_engines_by_name_and_shapes(reference: model.ReferenceModel) -> None:
    texts = make_task(5, k=3).texts
    for name in ("good", "noisy", "random"):
        kwargs: dict[str, Any] = {} if name == "random" else {"model": reference}
        out = make_engine(name, **kwargs).embed(texts)
        assert out.shape == (3, EMBEDDING_DIM) and out.dtype == np.float32
