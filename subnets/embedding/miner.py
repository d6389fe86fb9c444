"""The embedding miner: one of the example engines served as a subnet miner.

``EmbeddingMiner(variant)`` serves the ``Embedding`` service with the ``good`` (reference
model), ``noisy`` (model plus noise) or ``random`` (random unit vectors) engine of
:mod:`subnets.embedding.engines`. ``subnetkit miner run --subnet embedding --variant noisy``
builds it through :meth:`EmbeddingMiner.from_settings` (which reads ``--device``).
"""

from __future__ import annotations

from typing import Any

from subnetkit.core.settings import NeuronSettings
from subnetkit.miner import CallContext, Miner
from subnetkit.subnets.embedding import embedding_pb2
from subnetkit.subnets.embedding.engines import (
    EmbeddingEngine,
    GoodEngine,
    answer_request,
    make_engine,
)

VARIANTS = ("good", "noisy", "random")


class EmbeddingMiner(Miner):
    service = (embedding_pb2, "Embedding")

    def __init__(
        self, variant: str = "good", *, engine: EmbeddingEngine | None = None, device: str = "cpu"
    ) -> None:
        if engine is None:
            kwargs: dict[str, Any] = {} if variant == "random" else {"device": device}
            engine = make_engine(variant, **kwargs)
        self.variant = variant
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: NeuronSettings, variant: str | None = None) -> EmbeddingMiner:
        return cls(variant or "good", device=settings.torch_device)

    def prepare(self) -> None:
        """Load the model now (called by the neuron before it serves), not in the first request."""
        if isinstance(self.engine, GoodEngine):
            self.engine.embed(["warm up"])

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: CallContext
    ) -> embedding_pb2.EmbedResponse:
        # Request limits are checked and the embedding runs on a worker thread (answer_request).
        return await answer_request(self.engine, request)


__all__ = ["VARIANTS", "EmbeddingMiner"]
