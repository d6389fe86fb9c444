"""The ``subnetkit`` command line: one typer app with a sub-app per role.

Sub-app modules are light (typer only); each command imports what it needs inside its body so
``subnetkit --help`` stays fast. :func:`main` is the single place where errors become one line
on stderr and a numbered exit code; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os
import sys

import typer

from subnetkit.cli import _registry

app = typer.Typer(
    name="subnetkit",
    help="Build, run and test Bittensor-style subnets: signed gRPC wire, local chain, Yuma.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    log_level: str = typer.Option("INFO", "--log-level", envvar="SUBNETKIT_LOG_LEVEL"),
    log_format: str = typer.Option("text", "--log-format", help="text or json"),
) -> None:
    from subnetkit.core import log

    if debug:
        os.environ["SUBNETKIT_DEBUG"] = "1"
    log.configure(log_level, log_format)


_registry.register_all(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    from subnetkit.core.errors import SubnetkitError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode click hands a command's ``typer.Exit(code)`` back as the
        # return value instead of raising it: that code is the process's exit status.
        code = app(args=argv, standalone_mode=False)
    except SubnetkitError as exc:
        if debug:
            raise
        typer.echo(f"error[{exc.code}]: {exc.message}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # typer.Exit inside commands
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:
        import click

        # typer >= 0.29 raises its own vendored click's exceptions (typer.TyperException,
        # typer.Exit, typer.Abort), not the click package's: both are handled alike.
        if isinstance(exc, click.exceptions.Exit | typer.Exit):
            return exc.exit_code
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort | typer.Abort):
            typer.echo("aborted", err=True)
            return 1
        if debug:
            raise
        typer.echo(f"error[internal]: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
