"""``subnetkit subnet new NAME``: scaffold a subnet package that passes its own test at once.

The command joins the ``subnet`` sub-app of :mod:`subnetkit.cli.subnet` when that module is
present (the registry loads it first), else it brings its own ``subnet`` sub-app.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from subnetkit.cli.options import Format, OutputFormat

_DIR = typer.Option(Path("."), "--dir", help="Where to create the NAME/ package.")


def new(
    name: str = typer.Argument(..., help="Package name: lowercase letters, digits, '_'."),
    directory: Path = _DIR,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Create NAME/ with proto (compiled), miner, validator, scorer, test and README."""
    from subnetkit.tools.scaffold import scaffold_subnet

    result = scaffold_subnet(name, directory)
    files = [str(p) for p in (*result.files, *result.generated)]
    if fmt is OutputFormat.JSON:
        typer.echo(json.dumps({"name": name, "path": str(result.package_dir), "files": files}))
        return
    typer.echo(f"created subnet {name!r} in {result.package_dir}")
    for path in files:
        typer.echo(f"  {path}")
    where = result.package_dir.parent
    typer.echo("next, from " + str(where) + ":")
    typer.echo(f"  python -m pytest {name} -q")
    typer.echo(
        f"  subnetkit localnet up --subnet {name}:SUBNET --miners 2 --validators 1 --epochs 3"
    )


def register(app: typer.Typer) -> None:
    try:
        from subnetkit.cli.subnet import subnet_app
    except ImportError:
        subnet_app = typer.Typer(help="Create subnets.", no_args_is_help=True)
        app.add_typer(subnet_app, name="subnet")
    subnet_app.command("new")(new)
