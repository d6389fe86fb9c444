"""The embedding validator: ask for embeddings of corpus texts, score them against the reference.

Each round draws ``texts_per_task`` texts (:func:`subnets.embedding.tasks.make_task`, fresh
seed per round), sends them to the sampled miners, decodes each packed answer
(:meth:`EmbeddingAnswer.from_response`, malformed answers score 0) and scores the whole round in
one batched call of :class:`~subnets.embedding.scorer.EmbeddingScorer` on the scoring device:
cosine agreement with all-MiniLM-L6-v2, with a latency bonus scaled by quality.
"""

from __future__ import annotations

from subnetkit.core.settings import NeuronSettings
from subnetkit.subnets.embedding import embedding_pb2
from subnetkit.subnets.embedding.codec import encode_request
from subnetkit.subnets.embedding.scorer import Embedder, EmbeddingAnswer, EmbeddingScorer
from subnetkit.subnets.embedding.tasks import EmbeddingTask, make_task
from subnetkit.validator import QueryResult, Validator


class EmbeddingValidator(Validator[EmbeddingTask, embedding_pb2.EmbedResponse, EmbeddingAnswer]):
    method = (embedding_pb2, "Embedding.Embed")

    def __init__(self, texts_per_task: int = 8, *, reference: Embedder | None = None) -> None:
        self.texts_per_task = texts_per_task
        self.reference = reference

    @classmethod
    def from_settings(
        cls, settings: NeuronSettings, variant: str | None = None
    ) -> EmbeddingValidator:
        return cls()

    def make_task(self, seed: int) -> EmbeddingTask:
        return make_task(seed, self.texts_per_task)

    def build_request(self, task: EmbeddingTask) -> embedding_pb2.EmbedRequest:
        return encode_request(task.texts)

    def to_answer(
        self, task: EmbeddingTask, result: QueryResult[embedding_pb2.EmbedResponse]
    ) -> EmbeddingAnswer:
        # Raises WireError for a reply of the wrong shape: the neuron scores that miner 0.
        return EmbeddingAnswer.from_response(result.value, task, result.latency_s)

    def make_scorer(self, settings: NeuronSettings) -> EmbeddingScorer:
        return EmbeddingScorer(self.reference, latency_budget_s=settings.validator.timeout)


__all__ = ["EmbeddingValidator"]
