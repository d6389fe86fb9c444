"""Open an HTML file in real headless Chromium (Debian's ``chromium``) and read what it drew.

Chromium runs with the network off (no background networking, component updates or sync) and a
fresh profile, dumps the DOM after the page's scripts ran, and logs every console message to
stderr as ``...:CONSOLE...``; a clean page logs none. ``.ci/run`` installs ``chromium``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",
    "--dump-dom",
)


@dataclass
class Rendered:
    dom: str
    console: list[str]

    def elements_with_class(self, name: str) -> int:
        """Elements (not script text) whose class list holds ``name``."""
        counter = _ClassCounter()
        counter.feed(self.dom)
        return counter.classes[name]


class _ClassCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key == "class" and value:
                self.classes.update(set(value.split()))


def render(page: Path, profile: Path) -> Rendered:
    """The page's DOM after its scripts ran, and every console line it produced."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("Chromium is not installed: apt-get install -y chromium (.ci/run does)")
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(done.stdout, console)
