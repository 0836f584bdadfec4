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
COMMAND_MODULES = (
    "hullcheck.cli.images",
    "hullcheck.cli.scan",
    "hullcheck.cli.update",
    "hullcheck.cli.summarize",
    "hullcheck.cli.history",
    "hullcheck.cli.diff",
    "hullcheck.cli.recheck",
    "hullcheck.cli.risks",
    "hullcheck.cli.advise",
    "hullcheck.cli.notify",
    "hullcheck.cli.daemon",
    "hullcheck.cli.serve",
    "hullcheck.cli.report",
    "hullcheck.cli.config",
    "hullcheck.cli.demo",
)


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


def _register_commands() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(app)


def get_app() -> typer.Typer:
    """Return the app with every command registered (once), for the script and for tests."""
    if not app.registered_commands:
        _register_commands()
    return app


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        get_app()(prog_name="hullcheck")
    except Interrupted as interruption:
        sys.stderr.write(f"hullcheck: interrupted by {interruption}\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
    sys.exit(0)
