"""``subnetkit proto compile``: the codegen driver for our protos and subnet developers'."""

from __future__ import annotations

from pathlib import Path

import typer

proto_app = typer.Typer(help="Protobuf/gRPC code generation.", no_args_is_help=True)


@proto_app.command("compile")
def compile_cmd(
    paths: list[Path] = typer.Argument(  # noqa: B008
        None, help=".proto files or directories (default: roots in pyproject.toml)"
    ),
    root: Path = typer.Option(Path("."), "--root", help="Include root (the repository root)."),  # noqa: B008
    no_stubs: bool = typer.Option(False, "--no-stubs", help="Skip mypy-protobuf .pyi stubs."),
) -> None:
    """Generate *_pb2.py, *_pb2_grpc.py and .pyi stubs beside each .proto."""
    from subnetkit.core.errors import ConfigError
    from subnetkit.tools import codegen

    targets = list(paths or codegen.configured_roots(root))
    if not targets:
        raise ConfigError("no paths given and no [tool.subnetkit.codegen] roots in pyproject.toml")
    protos = codegen.find_protos(targets)
    generated = codegen.compile_protos(protos, root=root, stubs=not no_stubs)
    typer.echo(f"compiled {len(protos)} proto(s) into {len(generated)} file(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(proto_app, name="proto")
