"""Logging wiring: one ``subnetkit`` root logger, no handlers installed at import.

Libraries log through ``logging.getLogger(__name__)``; only entry points (the CLI, a neuron's
``run()``) call :func:`configure` to choose text or JSON lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

ROOT = "subnetkit"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers and load-test harnesses."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ids = trace_ids()
        if ids is not None:
            doc["trace_id"], doc["span_id"] = ids
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the OpenTelemetry span current in this context, if any.

    Looks only at an already imported ``opentelemetry.trace``: a process without tracing never
    pays for importing it on a log line.
    """
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return None
    ctx = otel.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure`` installs; its class marks it, so a second call replaces only it."""


def configure(level: str | int = "INFO", fmt: str = "text") -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for installed in list(root.handlers):
        if isinstance(installed, ConsoleHandler):
            root.removeHandler(installed)
    handler = ConsoleHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


class ThrottledLog:
    """Log one line per ``key`` at most every ``interval`` seconds, counting what it held back.

    For events a hostile peer can trigger at will (refused requests): the operator still learns
    *why* callers are refused, but a flood of junk becomes one line per interval, not millions.
    Keys are bounded by the caller (a status name, a refusal class), never a peer's identity.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        level: int = logging.INFO,
        max_keys: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.level = level
        self.max_keys = max_keys
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def log(self, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` logged less than ``interval`` s ago; True if
        logged. The line says how many of the same kind were held back since the last one."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if last is None and len(self._last) >= self.max_keys:
            oldest = min(self._last, key=self._last.__getitem__)
            self._last.pop(oldest)
            self._held.pop(oldest, None)
        self._last[key] = now
        held = self._held.pop(key, 0)
        suffix = f" (+{held} more like it in the last {now - last:.0f} s)" if held and last else ""
        self.logger.log(self.level, msg + suffix, *args)
        return True
