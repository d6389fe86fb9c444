"""Logging wiring: one ``subnetkit`` root logger, no handlers installed at import.

Libraries log through ``logging.getLogger(__name__)``; only entry points (the CLI, a neuron's
``run()``) call :func:`configure` to choose text or JSON lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
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
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


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
