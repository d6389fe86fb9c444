"""The Python API reference page (docs/api.md), generated from docstrings with ``inspect``.

``ChainClient`` and ``Metagraph`` replace Bittensor's ``subtensor`` and ``metagraph`` objects;
their reference is written from the code itself, so it cannot drift: the test suite regenerates
it and fails when the committed page differs (``python -m subnetkit.tools.apidoc`` rewrites it)
or when a public member has no docstring.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PAGE = Path("docs") / "api.md"
#: (import path, class name) documented, in page order
DOCUMENTED = (
    ("subnetkit.chain.client", "ChainClient"),
    ("subnetkit.chain.metagraph", "Metagraph"),
    ("subnetkit.chain.metagraph", "AxonInfo"),
)

HEADER = """# Python API reference

Generated from the docstrings by `python -m subnetkit.tools.apidoc` (the test suite fails when
this page is stale). `ChainClient` is what Bittensor calls `subtensor`: an async client of the
chain; `Metagraph` is one subnet at one block, as torch tensors named as Bittensor names them.

```python
from subnetkit.chain.client import ChainClient

async with ChainClient("127.0.0.1:9944") as chain:
    mg = await chain.metagraph(1)
    print(mg.n, mg.S, mg.I)
```
"""


class MissingDocstring(Exception):
    """A documented class or public member without a docstring."""


def _members(cls: type) -> Iterable[tuple[str, Any]]:
    for name, value in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(value, property) or inspect.isfunction(value) or inspect.ismethod(value):
            yield name, value


def _signature(name: str, value: Any) -> str:
    if isinstance(value, property):
        return f"{name}  (property)"
    try:
        sig = str(inspect.signature(value))
    except (TypeError, ValueError):
        sig = "(...)"
    prefix = "async " if inspect.iscoroutinefunction(value) else ""
    sig = sig.replace("'", "").replace("self, ", "").replace("(self)", "()")
    return f"{prefix}{name}{sig}"


def _doc(owner: str, value: Any) -> str:
    target = value.fget if isinstance(value, property) else value
    doc = inspect.getdoc(target)
    if not doc:
        raise MissingDocstring(f"{owner} has no docstring")
    return doc


def render() -> str:
    """The whole page; raises :class:`MissingDocstring` for an undocumented public member."""
    import importlib

    parts = [HEADER]
    for module_name, class_name in DOCUMENTED:
        cls = getattr(importlib.import_module(module_name), class_name)
        parts.append(f"\n## `{class_name}`\n\n`from {module_name} import {class_name}`\n")
        parts.append(_doc(class_name, cls) + "\n")
        fields = getattr(cls, "__dataclass_fields__", None)
        if fields:
            parts.append("\nFields: " + ", ".join(f"`{f}`" for f in fields) + ".\n")
        for name, value in _members(cls):
            parts.append(
                f"\n### `{_signature(name, value)}`\n\n{_doc(f'{class_name}.{name}', value)}\n"
            )
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Write the page (``--check``: only compare, exit 1 when stale)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = PAGE.read_text() if PAGE.is_file() else ""
        if current != text:
            print(f"{PAGE} is stale: run python -m subnetkit.tools.apidoc", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
