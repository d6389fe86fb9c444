"""Keep Python's full garbage collections out of blocks while the pool is large.

A burst of 50,000 extrinsics keeps ~50,000 long-lived objects (pending entries, their futures
and parsed calls) in the collector's oldest generation; every full collection walks all of
them, and one landing inside a block build added 0.5-0.8 s to it (measured with ``gc.callbacks``
in ``bench/chain.py``'s burst). While the pool holds more than :data:`LARGE_POOL` entries, the
node moves what is alive after each block into the permanent generation (``gc.freeze``: a full
collection then walks only objects created since), after a young collection has freed the
short-lived cycles. Frozen objects are still freed by reference counting when the pool drops
them; once the pool is small again, ``gc.unfreeze`` hands everything back to the collector, so
cyclic garbage frozen meanwhile is collected then.
"""

from __future__ import annotations

import gc

#: pool size above which live objects are frozen after each block
LARGE_POOL = 10_000


class GcPause:
    def __init__(self) -> None:
        self.frozen = False

    def after_block(self, pool_size: int) -> None:
        if pool_size > LARGE_POOL:
            gc.collect(1)  # young cycles first: they must not be frozen
            gc.freeze()
            self.frozen = True
        elif self.frozen:
            gc.unfreeze()
            self.frozen = False
