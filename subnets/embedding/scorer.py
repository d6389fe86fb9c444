"""The embedding validator's scorer: cosine agreement with the reference model, and latency.

For one round (one task of ``k`` texts) and ``m`` answers, the scorer embeds the texts once with
the reference model, stacks every well-formed answer into one ``[m, k, 384]`` tensor and scores
them all in a single batched cosine-similarity call on the scoring device:

    quality  = clamp(mean_i cos(answer_i, reference_i), 0, 1)          # per miner, over k texts
    speed    = clamp(1 - latency_s / latency_budget_s, 0, 1)            # 1 = instant, 0 = at budget
    score    = quality * (quality_weight + (1 - quality_weight) * speed)

With the default ``quality_weight = 0.9`` this is "0.9 quality + 0.1 latency", except that the
latency share is itself scaled by quality: a fast answer earns its speed bonus only in proportion
to how right it is, so a miner that returns instant random vectors gets ~0, not a free 0.1.
A malformed answer (wrong shape) scores 0 without disturbing the others.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from subnetkit.core.errors import ConfigError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.subnets.embedding.codec import decode_embeddings
from subnetkit.subnets.embedding.embedding_pb2 import EmbedResponse
from subnetkit.subnets.embedding.tasks import EmbeddingTask
from subnetkit.validator.scoring import ScoringBatch


class Embedder(Protocol):
    """Anything that embeds texts into unit vectors: the reference model, or a test double."""

    def embed(self, texts: Sequence[str]) -> Tensor: ...


@dataclass(frozen=True, slots=True)
class EmbeddingAnswer:
    """One miner's answer to a round: ``[k, 384]`` float32 vectors and how long it took."""

    vectors: np.ndarray | Tensor
    latency_s: float

    @classmethod
    def from_response(
        cls, response: EmbedResponse, task: EmbeddingTask, latency_s: float
    ) -> EmbeddingAnswer:
        """Validator side: decode a miner's reply to ``task`` (zero-copy view of its bytes).

        Raises :class:`~subnetkit.core.errors.WireError` (INVALID_ARGUMENT) for a reply of the wrong
        count, width or size, or with non-finite values; treat that miner's round as failed.
        """
        vectors = decode_embeddings(response, count=len(task.texts), dim=EMBEDDING_DIM)
        return cls(vectors=vectors, latency_s=latency_s)


class EmbeddingScorer(nn.Module):
    """Scores a batch of :class:`EmbeddingAnswer` for one :class:`EmbeddingTask`.

    ``reference`` is the embedder answers are compared to; when omitted, the runtime's
    ``prepare(device)`` loads all-MiniLM-L6-v2 on the scoring device (on the worker thread).
    ``latency_budget_s`` should be the validator's query timeout: an answer that used all of it
    earns no speed bonus.
    """

    def __init__(
        self,
        reference: Embedder | None = None,
        *,
        quality_weight: float = 0.9,
        latency_budget_s: float = 2.0,
        cached_rounds: int = 4,
    ) -> None:
        super().__init__()
        if not 0.0 <= quality_weight <= 1.0:
            raise ConfigError(f"quality_weight must be in [0, 1], got {quality_weight}")
        if latency_budget_s <= 0:
            raise ConfigError(f"latency_budget_s must be positive, got {latency_budget_s}")
        self.reference = reference
        self.quality_weight = quality_weight
        self.latency_budget_s = latency_budget_s
        self._cached_rounds = max(1, cached_rounds)
        # texts -> reference embeddings; a round split into several batches embeds once.
        self._references: OrderedDict[tuple[str, ...], Tensor] = OrderedDict()

    def prepare(self, device: torch.device) -> None:
        """Runtime hook (worker thread): load the reference model on the scoring device."""
        if self.reference is None:
            from subnetkit.subnets.embedding.model import load_reference_model

            self.reference = load_reference_model(device)

    def reference_embeddings(self, task: EmbeddingTask, device: torch.device) -> Tensor:
        """The reference model's unit vectors for the task's texts, ``[k, 384]`` on ``device``."""
        cached = self._references.get(task.texts)
        if cached is not None:
            self._references.move_to_end(task.texts)
            return cached
        if self.reference is None:
            self.prepare(device)
        assert self.reference is not None
        embedded = self.reference.embed(task.texts).to(device=device, dtype=torch.float32)
        self._references[task.texts] = embedded
        while len(self._references) > self._cached_rounds:
            self._references.popitem(last=False)
        return embedded

    def forward(self, batch: ScoringBatch) -> Tensor:
        task: EmbeddingTask = batch.task
        reference = self.reference_embeddings(task, batch.device)
        expected = tuple(reference.shape)
        scores = torch.zeros(len(batch), dtype=torch.float32, device=batch.device)
        valid = [
            i
            for i, answer in enumerate(batch.responses)
            if isinstance(answer, EmbeddingAnswer) and tuple(answer.vectors.shape) == expected
        ]
        if not valid:
            return scores
        answers: list[EmbeddingAnswer] = [batch.responses[i] for i in valid]
        stacked = _stack([a.vectors for a in answers]).to(batch.device, non_blocking=True)
        latency = torch.tensor([a.latency_s for a in answers], dtype=torch.float32)
        quality = self.quality(stacked, reference)
        speed = (1.0 - latency.to(batch.device) / self.latency_budget_s).clamp(0.0, 1.0)
        combined = quality * (self.quality_weight + (1.0 - self.quality_weight) * speed)
        scores[torch.tensor(valid, device=batch.device)] = combined.float()
        return scores

    @staticmethod
    def quality(answers: Tensor, reference: Tensor) -> Tensor:
        """Per miner, mean cosine similarity to the reference over the k texts, in [0, 1].

        ``answers`` is ``[m, k, d]``, ``reference`` is ``[k, d]``; returns ``[m]``.
        """
        answers = answers.float()
        unit_reference = F.normalize(reference.float(), dim=-1)
        # Dot with the unit reference over the answer's own norm: cheaper than
        # F.cosine_similarity's broadcast (no normalised copy of the [m, k, d] answers).
        dots = (answers * unit_reference.unsqueeze(0)).sum(dim=-1)
        cosine = dots / torch.linalg.vector_norm(answers, dim=-1).clamp_min(1e-8)
        return cosine.mean(dim=-1).clamp(0.0, 1.0)


def _stack(vectors: Sequence[np.ndarray | Tensor]) -> Tensor:
    """Stack answers into one float32 CPU tensor with one copy (numpy answers stay zero-copy
    until here; the wire decodes them as read-only views)."""
    if all(isinstance(v, np.ndarray) for v in vectors):
        return torch.from_numpy(np.stack(vectors).astype(np.float32, copy=False))
    return torch.stack([torch.as_tensor(v, dtype=torch.float32).cpu() for v in vectors])


__all__ = ["Embedder", "EmbeddingAnswer", "EmbeddingScorer"]
