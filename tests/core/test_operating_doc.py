"""docs/operating.md's complete settings file gives the real defaults: the page and the code
must not disagree (the default bind address was once given three ways)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from subnetkit.core.settings import NeuronSettings

DOC = Path(__file__).parents[2] / "docs" / "operating.md"
#: sections whose every key in the page must be the default (wallet names are examples)
DEFAULT_SECTIONS = ("chain", "axon", "miner", "validator", "tracing")


def test_the_complete_file_in_operating_md_shows_the_defaults() -> None:
    text = DOC.read_text()
    block = re.search(r"A complete file, with the defaults.*?```toml\n(.*?)```", text, re.S)
    assert block is not None, "the complete settings file is gone from docs/operating.md"
    doc = tomllib.loads(block.group(1))
    defaults = NeuronSettings().model_dump()
    for section in DEFAULT_SECTIONS:
        for key, value in doc[section].items():
            assert defaults[section][key] == value, f"{section}.{key}: page {value!r}"
    assert doc["device"] == defaults["device"]
