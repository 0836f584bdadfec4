"""The ``hullcheck`` console script: a Typer app whose commands live one per module."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from hullcheck import __version__
from hullcheck.cli.common import fail
from hullcheck.cli.console import configure_logging
from hullcheck.config.loader import apply_to_context, load_config_file
from hullcheck.errors import HullcheckError, Interrupted
from hullcheck.exitcodes import ExitCode

app = typer.Typer(
    name="hullcheck",
    help="Keep self-hosted containers updated and know the risk each update brings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``; a missing module is a packaging bug, not a user error.
COMMANDS = {
    "images": "hullcheck.cli.images",
    "scan": "hullcheck.cli.scan",
    "update": "hullcheck.cli.update",
    "summarize": "hullcheck.cli.summarize",
    "history": "hullcheck.cli.history",
    "diff": "hullcheck.cli.diff",
    "recheck": "hullcheck.cli.recheck",
    "accept": "hullcheck.cli.risks",
    "risks": "hullcheck.cli.risks",
    "advise": "hullcheck.cli.advise",
    "notify": "hullcheck.cli.notify",
    "daemon": "hullcheck.cli.daemon",
    "serve": "hullcheck.cli.serve",
    "report": "hullcheck.cli.report",
    "config": "hullcheck.cli.config",
    "demo": "hullcheck.cli.demo",
}
"""The command names on the command line and the module that registers each."""

COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))

ROOT_FLAGS = frozenset({"-v", "--verbose", "-q", "--quiet", "--debug"})
"""Options of the root command that take no value (``-vv`` is handled as ``-v``)."""

_registered: set[str] = set()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hullcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    context: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="HULLCHECK_CONFIG",
            help="TOML config file (default: ~/.config/hullcheck/config.toml when it exists).",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    level = logging.WARNING if quiet else logging.INFO
    if verbose >= 1 or debug:
        level = logging.DEBUG
    configure_logging(level, debug=debug)
    try:
        apply_to_context(context, load_config_file(config))
    except HullcheckError as error:
        fail(error)


def _register(module_names: tuple[str, ...]) -> None:
    for module_name in module_names:
        if module_name in _registered:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(app)
        _registered.add(module_name)


def requested_command(arguments: list[str]) -> str | None:
    """Return the command named on the command line, or None when there is none to find.

    Only the root options may come before the command; ``--help`` and ``--version`` there
    return None, since the help lists every command.
    """
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--config":
            position += 2
            continue
        if argument.startswith("--config=") or argument in ROOT_FLAGS:
            position += 1
            continue
        if argument.startswith("-v") and set(argument[1:]) == {"v"}:
            position += 1
            continue
        return argument if argument in COMMANDS else None
    return None


def get_app(command: str | None = None) -> typer.Typer:
    """Return the app with ``command`` registered, or every command when it is None.

    A run of one command imports only that command's module, so ``hullcheck scan`` does
    not pay for the imports of ``serve`` or ``notify``.
    """
    if command in COMMANDS:
        _register((COMMANDS[command],))
    else:
        _register(COMMAND_MODULES)
    return app


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        get_app(requested_command(sys.argv[1:]))(prog_name="hullcheck")
    except Interrupted as interruption:
        sys.stderr.write(f"hullcheck: interrupted by {interruption}\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
    sys.exit(0)
