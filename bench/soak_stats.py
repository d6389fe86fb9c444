"""What bench/soak.py measures about each process: samples from /proc and /metrics, and the
memory slope after warm-up.

Kept apart from the orchestration so the arithmetic is small enough to read at once: a slope
is an ordinary least-squares fit of resident memory against time, over the samples taken after
warm-up by the process's *current* pid (a restarted chain starts its memory afresh).
"""

from __future__ import annotations

import os
import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


@dataclass
class Sample:
    """One look at one process."""

    t: float  # seconds since the soak started
    pid: int
    rss_mib: float
    open_files: int
    threads: int
    asyncio_tasks: float | None = None


@dataclass
class Track:
    """Everything sampled from one named process (across its restarts)."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    restarts: int = 0
    unexpected_exits: int = 0

    def current(self, after: float) -> list[Sample]:
        """Samples after ``after`` s taken by the latest pid."""
        if not self.samples:
            return []
        pid = self.samples[-1].pid
        return [s for s in self.samples if s.pid == pid and s.t >= after]

    def summary(self, warmup_s: float) -> dict[str, Any]:
        steady = self.current(warmup_s)
        doc: dict[str, Any] = {
            "samples": len(self.samples),
            "restarts": self.restarts,
            "unexpected_exits": self.unexpected_exits,
        }
        if not self.samples:
            return doc
        last = self.samples[-1]
        doc.update(
            rss_mib_end=round(last.rss_mib, 1),
            open_files_end=last.open_files,
            threads_end=last.threads,
            open_files_max=max(s.open_files for s in self.samples),
            threads_max=max(s.threads for s in self.samples),
            rss_mib_max=round(max(s.rss_mib for s in self.samples), 1),
        )
        tasks = [s.asyncio_tasks for s in self.samples if s.asyncio_tasks is not None]
        if tasks:
            doc.update(asyncio_tasks_end=tasks[-1], asyncio_tasks_max=max(tasks))
        # Always present: a short run (or a process restarted late) has too few samples of its
        # current pid after warm-up for a slope that means anything, and says so.
        doc.update(rss_slope_mib_per_hour=None, rss_slope_note="")
        if len(steady) < MIN_SLOPE_SAMPLES:
            doc["rss_slope_note"] = (
                f"{len(steady)} samples of the current process after warm-up; a slope needs "
                f"at least {MIN_SLOPE_SAMPLES} (run longer)"
            )
        else:
            slope = fit_slope([s.t for s in steady], [s.rss_mib for s in steady])
            doc.update(
                rss_mib_after_warmup=round(steady[0].rss_mib, 1),
                rss_growth_ratio=round(last.rss_mib / steady[0].rss_mib, 3),
                rss_slope_mib_per_hour=round(slope * 3600, 2),
                steady_window_s=round(steady[-1].t - steady[0].t, 1),
            )
        return doc


#: steady samples (after warm-up, one pid) a memory slope is fitted over at the least
MIN_SLOPE_SAMPLES = 3


def fit_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 for fewer than two distinct xs)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def read_proc(pid: int) -> tuple[float, int, int] | None:
    """(resident MiB, open file descriptors, threads) of ``pid``, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            rss_pages = int(handle.read().split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as handle:
            threads = next(int(line.split()[1]) for line in handle if line.startswith("Threads:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return rss_pages * PAGE_KIB / 1024, fds, threads


def scrape(port: int, timeout: float = 2.0) -> dict[str, float]:
    """A neuron's /metrics as ``{"name{labels}": value}`` (empty when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            text = r.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match is None or line.startswith("#"):
            continue
        try:
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        except ValueError:
            continue
    return values


def count_errors(log_path: str, offset: int = 0) -> tuple[int, int, list[str]]:
    """ERROR lines and tracebacks in a log from byte ``offset``: (errors, new offset, the
    first few lines)."""
    errors, shown = 0, []
    try:
        with open(log_path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
            offset += len(data)
    except OSError:
        return 0, offset, []
    for raw in data.decode(errors="replace").splitlines():
        if " ERROR " in raw or '"level": "error"' in raw or raw.startswith("Traceback"):
            errors += 1
            if len(shown) < 5:
                shown.append(raw[:300])
    return errors, offset, shown
