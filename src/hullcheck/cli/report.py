"""``hullcheck report RUN_ID``: render a stored run as HTML, JSON or Markdown."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.text import Text

from hullcheck.cli.console import debug_enabled, stderr_console
from hullcheck.dashboard.history import open_read_only
from hullcheck.dashboard.pages import TREND_RUNS
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.fileio import write_atomic
from hullcheck.reporting import parse_severity_list, render_json, render_markdown
from hullcheck.reporting.updates import render_update_json
from hullcheck.run import RunRecord
from hullcheck.storage import RunSummary, default_history_path

logger = logging.getLogger(__name__)

DRY_RUN_REASON_PREFIX = "dry run:"
"""Prefix of the reason the updater gives each service that a dry run would update."""


class StoredReportFormat(StrEnum):
    HTML = "html"
    JSON = "json"
    MARKDOWN = "markdown"


def fail_with(error: HullcheckError) -> NoReturn:
    """Print the error and its hint on stderr, each on one unwrapped line, and exit 2."""
    # Text objects keep brackets in paths from being read as Rich markup.
    stderr_console.print(Text.assemble(("error: ", "bold red"), error.message), soft_wrap=True)
    if error.hint:
        stderr_console.print(Text.assemble(("hint: ", "yellow"), error.hint), soft_wrap=True)
    if debug_enabled():
        stderr_console.print_exception()
    raise typer.Exit(int(ExitCode.USAGE))


def render_stored_run(
    run: RunRecord,
    report_format: StoredReportFormat,
    *,
    severity: str = "CRITICAL,HIGH",
    hide_unfixed: bool = False,
    history: list[RunSummary] | None = None,
) -> str:
    """Render a run loaded from the history in ``report_format``."""
    severities = parse_severity_list(severity)
    if report_format is StoredReportFormat.HTML:
        from hullcheck.reporting.html import render_html  # Jinja2 only when asked for

        return render_html(run, history=history, severities=severities, hide_unfixed=hide_unfixed)
    if report_format is StoredReportFormat.MARKDOWN:
        return render_markdown(run, severities=severities, hide_unfixed=hide_unfixed)
    if run.updates:
        # NOTE: the history does not store the --dry-run flag, so a dry run is recognised by
        # the reason the updater gives each service it would update. A dry run that found
        # no update is reported with dry_run false, which changes nothing it lists.
        dry_run = any(update.reason.startswith(DRY_RUN_REASON_PREFIX) for update in run.updates)
        return render_update_json(run, dry_run=dry_run, severities=severities)
    return render_json(run, severities=severities, hide_unfixed=hide_unfixed)


def report_command(
    run_id: Annotated[
        int, typer.Argument(metavar="RUN_ID", help="Run id from `hullcheck history`.", min=1)
    ],
    report_format: Annotated[
        StoredReportFormat, typer.Option("--format", "-f", help="html, json or markdown.")
    ] = StoredReportFormat.HTML,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
    ] = None,
    severity: Annotated[
        str,
        typer.Option(
            "--severity",
            help="Comma-separated severities listed in the findings detail. "
            "Counts always include every severity.",
        ),
    ] = "CRITICAL,HIGH",
    hide_unfixed: Annotated[
        bool,
        typer.Option(
            "--hide-unfixed", help="Leave out vulnerabilities that have no fixed version."
        ),
    ] = False,
    database: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="HULLCHECK_HISTORY_DB",
            help="History database file (default: history.db in the data directory).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Render a stored run; HTML adds a trend chart of the runs up to it."""
    try:
        path = database if database is not None else default_history_path(create=False)
        with open_read_only(path) as history:
            run = history.store.load_run(run_id)
            summaries = history.runs_until(run_id, TREND_RUNS)
        text = render_stored_run(
            run, report_format, severity=severity, hide_unfixed=hide_unfixed, history=summaries
        )
        if output is None:
            typer.echo(text, nl=False)
        else:
            write_atomic(output, text)
            logger.info("Report of run %d written to %s", run_id, output)
    except HullcheckError as error:
        fail_with(error)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
