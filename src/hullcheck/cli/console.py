"""Terminal output: Rich consoles on stderr for logs and progress, stdout only for reports."""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler

stderr_console = Console(stderr=True)
"""Logs, progress bars and summaries: never mixed into a report on stdout."""

_state = {"debug": False}


def configure_logging(level: int, *, debug: bool = False) -> None:
    """Configure only the ``hullcheck`` logger, so library loggers keep their own settings."""
    _state["debug"] = debug
    logger = logging.getLogger("hullcheck")
    logger.setLevel(level)
    logger.handlers.clear()
    handler: logging.Handler
    if stderr_console.is_terminal:
        handler = RichHandler(
            console=stderr_console, show_path=False, show_time=False, markup=False
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        # Off a terminal (a pipe, cron mail, the journal) Rich would wrap each record at 80
        # columns and split digests, so records go out as single plain lines.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def report_console() -> Console:
    """Return the console for reports on stdout: wide when stdout is a file or a pipe.

    Rich falls back to 80 columns off a terminal, which wraps image references and
    digests across many lines; 160 keeps a report row on one line. COLUMNS still wins.
    """
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        return Console(width=160)
    return console


def debug_enabled() -> bool:
    return _state["debug"]
