"""Three example miner behaviours of clearly different quality, for demos, tests and benches.

* :class:`GoodEngine`: the real reference model; cosine ~1 against the validator.
* :class:`NoisyEngine`: the real model plus Gaussian noise of standard deviation ``sigma`` per
  component. Unit vectors in 384 dimensions have components of about 1/sqrt(384) ~ 0.05, so the
  default ``sigma = 0.05`` gives an expected cosine of about 1/sqrt(1 + 384 * sigma^2) ~ 0.71.
* :class:`RandomEngine`: random unit vectors; cosine ~0 (clamped to 0 by the scorer).

Engines are plain classes: ``embed(texts) -> float32 [len(texts), 384]`` (blocking) and
``aembed`` which runs it on a worker thread, so a miner's event loop never blocks on torch. The
neurons layer wraps them in ``Miner`` subclasses serving the ``Embedding`` proto service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np

from subnetkit.core.errors import ConfigError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.subnets.embedding.codec import check_texts, encode_embeddings
from subnetkit.subnets.embedding.embedding_pb2 import EmbedRequest, EmbedResponse
from subnetkit.subnets.embedding.scorer import Embedder

NOISY_SIGMA = 0.05
"""Default per-component noise of :class:`NoisyEngine` (expected cosine ~0.71)."""


class EmbeddingEngine:
    """Base of the example engines: a name and the blocking/async embed pair."""

    name = "engine"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking: ``float32 [len(texts), 384]``. Call :meth:`aembed` from the event loop."""
        raise NotImplementedError

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`embed` on a worker thread."""
        return await asyncio.to_thread(self.embed, list(texts))


class GoodEngine(EmbeddingEngine):
    """The honest miner: embeds with the same model the validator uses as reference."""

    name = "good"

    def __init__(self, model: Embedder | None = None, *, device: str = "cpu") -> None:
        self._model = model
        self._device = device

    def _embedder(self) -> Embedder:
        if self._model is None:
            from subnetkit.subnets.embedding.model import load_reference_model

            self._model = load_reference_model(self._device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._embedder().embed(list(texts))
        return vectors.detach().to("cpu").float().numpy()


class NoisyEngine(GoodEngine):
    """The sloppy miner: real embeddings plus N(0, sigma^2) noise on every component."""

    name = "noisy"

    def __init__(
        self,
        model: Embedder | None = None,
        *,
        sigma: float = NOISY_SIGMA,
        seed: int | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(model, device=device)
        if sigma < 0:
            raise ConfigError(f"noise sigma must be non-negative, got {sigma}")
        self.sigma = sigma
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        clean = super().embed(texts)
        with self._rng_lock:
            noise = self._rng.normal(0.0, self.sigma, size=clean.shape)
        return (clean + noise).astype(np.float32)


class RandomEngine(EmbeddingEngine):
    """The lazy miner: uniformly random unit vectors, no model at all."""

    name = "random"

    def __init__(self, *, dim: int = EMBEDDING_DIM, seed: int | None = None) -> None:
        self.dim = dim
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._rng_lock:
            raw = self._rng.standard_normal((len(texts), self.dim))
        return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


ENGINES: dict[str, type[EmbeddingEngine]] = {
    "good": GoodEngine,
    "noisy": NoisyEngine,
    "random": RandomEngine,
}


async def answer_request(engine: EmbeddingEngine, request: EmbedRequest) -> EmbedResponse:
    """Miner side: check the request's limits, embed off the loop, pack the reply.

    Raises :class:`~subnetkit.core.errors.WireError` (INVALID_ARGUMENT) for a request outside the
    subnet's limits, which the miner's server maps to the matching gRPC status.
    """
    texts = check_texts(request.texts)
    return encode_embeddings(await engine.aembed(texts))


def make_engine(name: str, **kwargs: object) -> EmbeddingEngine:
    """Build an example engine by name (``good``, ``noisy`` or ``random``)."""
    try:
        cls = ENGINES[name]
    except KeyError:
        raise ConfigError(
            f"unknown embedding engine {name!r}: choose one of {', '.join(ENGINES)}"
        ) from None
    return cls(**kwargs)  # type: ignore[arg-type]


__all__ = [
    "ENGINES",
    "NOISY_SIGMA",
    "EmbeddingEngine",
    "GoodEngine",
    "NoisyEngine",
    "RandomEngine",
    "answer_request",
    "make_engine",
]
