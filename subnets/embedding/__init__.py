"""The "embedding" subnet: miners embed texts, validators score them against a reference model.

Modules, each with one job:

* ``embedding.proto`` / ``embedding_pb2*``: the wire (texts in, packed float32 vectors out);
* :mod:`~subnets.embedding.codec`: proto <-> numpy arrays, with size and shape checks;
* :mod:`~subnets.embedding.tasks`: the built-in corpus and the seeded per-round task;
* :mod:`~subnets.embedding.model`: the reference model (all-MiniLM-L6-v2, loaded offline);
* :mod:`~subnets.embedding.scorer`: the validator's batch scorer (cosine quality + latency);
* :mod:`~subnets.embedding.engines`: example miner behaviours (good, noisy, random).

Nothing here imports torch models or sentence-transformers at import time; the model loads
lazily, once per process, on first use.
"""

EMBEDDING_DIM = 384
"""Width of all-MiniLM-L6-v2's sentence embeddings, and so of every valid answer."""

from subnetkit.core.subnet_spec import SubnetSpec  # noqa: E402

SUBNET = SubnetSpec(
    name="embedding",
    miner="subnetkit.subnets.embedding.miner:EmbeddingMiner",
    validator="subnetkit.subnets.embedding.validator:EmbeddingValidator",
    variants=("good", "noisy", "random"),
    description="Miners embed texts; validators score cosine agreement with a reference model.",
)
