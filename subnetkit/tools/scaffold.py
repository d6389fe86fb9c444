"""``subnet new``: write a new subnet package from templates, with its proto already compiled.

The package is ``<dir>/<name>/``: proto, miner, validator, scorer, a test and a README, from the
templates in ``subnetkit/templates/subnet/``. The templates follow the echo subnet's shape and
the generated test passes as written, so a developer starts from green and changes one thing
at a time. ``<dir>`` is the proto include root (the proto's path is its import path), so the
package imports as ``<name>`` with ``<dir>`` on the Python path.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from subnetkit.core.errors import ConfigError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: template file -> file written in the package (``{name}`` is the subnet name)
TEMPLATE_FILES: dict[str, str] = {
    "__init__.py.tmpl": "__init__.py",
    "proto.tmpl": "{name}.proto",
    "miner.py.tmpl": "miner.py",
    "validator.py.tmpl": "validator.py",
    "scorer.py.tmpl": "scorer.py",
    "test.py.tmpl": "test_{name}.py",
    "README.md.tmpl": "README.md",
}

#: names a subnet package must not take: they would shadow what its own code imports
RESERVED = frozenset(
    {"miner", "validator", "chain", "protos", "subnets", "subnetkit", "tests", "test", "torch"}
)


@dataclass(frozen=True, slots=True)
class Scaffold:
    """What :func:`scaffold_subnet` wrote."""

    name: str
    package_dir: Path
    files: tuple[Path, ...]
    generated: tuple[Path, ...]


def camel(name: str) -> str:
    """``my_subnet`` -> ``MySubnet`` (class and service names)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def check_name(name: str) -> str:
    """The subnet name, or a ConfigError saying exactly why it cannot be one."""
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"invalid subnet name {name!r}: use 1-40 lowercase letters, digits or '_', "
            "starting with a letter (it becomes a Python package and a proto package)"
        )
    if keyword.iskeyword(name) or name in RESERVED:
        raise ConfigError(f"invalid subnet name {name!r}: it is reserved; pick another name")
    if importlib.util.find_spec(name) is not None:
        raise ConfigError(
            f"invalid subnet name {name!r}: an installed module is already called that and "
            "one of them would shadow the other; pick another name"
        )
    return name


def render(text: str, name: str) -> str:
    return text.replace("{{name}}", name).replace("{{Camel}}", camel(name))


def scaffold_subnet(
    name: str, directory: Path | str = ".", *, compile_proto: bool = True
) -> Scaffold:
    """Write subnet ``name`` into ``<directory>/<name>/`` and compile its proto.

    Refuses (ConfigError) an invalid name or an existing non-empty target; on a failure after
    writing started, removes what it wrote, so a retry starts clean.
    """
    check_name(name)
    root = Path(directory).expanduser().resolve()
    package = root / name
    if package.exists() and (not package.is_dir() or any(package.iterdir())):
        raise ConfigError(f"{package} already exists and is not empty: pick another name or --dir")
    templates = resources.files("subnetkit.templates").joinpath("subnet")
    existed = package.exists()
    written: list[Path] = []
    try:
        package.mkdir(parents=True, exist_ok=True)
        for template, target in TEMPLATE_FILES.items():
            path = package / target.format(name=name)
            path.write_text(render(templates.joinpath(template).read_text(), name))
            written.append(path)
        generated: list[Path] = []
        if compile_proto:
            from subnetkit.tools.codegen import compile_protos

            generated = compile_protos([package / f"{name}.proto"], root=root)
    except BaseException:
        if existed:
            for path in written:
                path.unlink(missing_ok=True)
        else:
            shutil.rmtree(package, ignore_errors=True)
        raise
    return Scaffold(name, package, tuple(written), tuple(generated))


__all__ = ["Scaffold", "camel", "check_name", "scaffold_subnet"]
