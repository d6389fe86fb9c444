"""The ``subnetkit`` command line: one typer app with a sub-app per role.

Sub-app modules are light (typer only); each command imports what it needs inside its body so
``subnetkit --help`` stays fast. :func:`main` is the single place where errors become one line
on stderr and a numbered exit code; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

# gRPC core writes a line to stderr for every failed TLS handshake (at INFO, past our logging):
# a miner that refuses callers in the handshake (axon.require_client_tls) would give anyone a
# log line per connection attempt. Set before any command imports grpc; an operator who wants
# them sets GRPC_VERBOSITY=INFO.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

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


#: the root's own flags, and whether each takes a value
GLOBAL_FLAGS = {"--debug": False, "--log-level": True, "--log-format": True}


def command_words(args: list[str]) -> list[str]:
    """``subnetkit`` plus the command's words (``subnet list``), skipping global flags, up to
    the first option or argument that is not a subcommand name."""
    words, rest = ["subnetkit"], list(args)
    while rest and rest[0].split("=", 1)[0] in GLOBAL_FLAGS:
        flag = rest.pop(0)
        if GLOBAL_FLAGS.get(flag) and rest:  # "--log-level DEBUG"; "--log-level=DEBUG" is one
            rest.pop(0)
    group: Any = app
    for word in rest:
        if word.startswith("-"):
            break
        sub = _subcommand(group, word)
        if sub is None:
            break
        words.append(word)
        group = sub
    return words


def _subcommand(group: Any, word: str) -> Any:
    """The sub-command named ``word`` of a typer app (or group), or None."""
    import typer.main

    command = group if not isinstance(group, typer.Typer) else typer.main.get_command(group)
    lookup = getattr(command, "commands", None)
    return lookup.get(word) if isinstance(lookup, dict) else None


def global_flag_hint(args: list[str], exc: Exception) -> str | None:
    """For ``No such option: --debug`` after a subcommand: where the flag belongs."""
    text = str(getattr(exc, "message", exc))
    for flag in GLOBAL_FLAGS:
        if flag in args and flag in text:
            words = command_words([a for a in args if a != flag])
            return (
                f"{flag} is a global flag: give it before the command, e.g. "
                f"`subnetkit {flag}{' VALUE' if GLOBAL_FLAGS[flag] else ''} "
                f"{' '.join(words[1:])} ...`"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    from subnetkit.cli import session
    from subnetkit.core.errors import SubnetkitError

    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    try:
        session.COMMAND[:] = command_words(args)
    except Exception:  # naming the command is a nicety; never let it stop the command
        session.COMMAND[:] = ["subnetkit"]
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
            hint = global_flag_hint(args, exc)
            if hint is not None:
                typer.echo(f"error[config]: {hint}", err=True)
                return 2
            message = exc.format_message().strip()
            # click's UsageError family (a bad flag, value or command) in one line; a group
            # run with no command has already printed its help and has no message
            if exc.exit_code == 2 and message and "\n" not in message:
                typer.echo(
                    f"error[config]: {message} (see `{session.command_line()} --help`)", err=True
                )
                return 2
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
