"""Process settings that make CPU epochs fast and steady; the chain applies them at startup.

Two measured effects on the 2-core machines this runs on:

* Threads. Torch's intra-op OpenMP pool synchronises at every operation; when the cores are
  shared (the chain's event loop, other processes) a descheduled worker stalls every op and a
  4096-uid epoch measured ~25 ms on one thread but 100-300 ms on two. The epoch's operations
  are memory-bound at these sizes, so on an idle machine two threads win only modestly
  (~19 ms against ~25 ms in our runs).
* Freed memory. An epoch at n = 4096 allocates about a dozen 8 MB temporaries. glibc hands
  blocks that large back to the kernel when they are freed (mmap threshold, heap trimming), so
  the next epoch faults every page in again; in a VM that costs ~2-3 ms per 8 MB and took a
  4096-uid epoch from ~25 ms to ~75 ms. Raising the thresholds keeps the memory in the process
  for reuse; memory once used stays reserved (a few hundred MB at most at these sizes).

Both are process-wide, so nothing here runs at import: :func:`tune_for_epochs` is opt-in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def retain_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Ask glibc to serve blocks below ``threshold_bytes`` from the heap and not trim it.

    Returns True if the setting took effect, False where the C library is not glibc (then
    nothing changes and epochs are merely slower).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    limit = min(threshold_bytes, 2**31 - 1)
    # Some glibc builds cap the mmap threshold at 32 MiB; fall back to that cap.
    ok = bool(mallopt(_M_MMAP_THRESHOLD, limit)) or bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    ok = bool(mallopt(_M_TRIM_THRESHOLD, limit)) and ok
    logger.debug("retain_freed_memory(threshold=%d): %s", limit, ok)
    return ok


def tune_for_epochs(*, threads: int | None = 1, retain_memory: bool = True) -> dict[str, object]:
    """Apply both settings for a process whose CPU-heavy work is running epochs.

    ``threads=None`` leaves torch's thread count alone. Returns what was applied, for logs.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    retained = retain_freed_memory() if retain_memory else False
    return {"torch_threads": torch.get_num_threads(), "retain_freed_memory": retained}


__all__ = ["retain_freed_memory", "tune_for_epochs"]
