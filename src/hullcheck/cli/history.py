"""``hullcheck history``: list past runs from the history database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.cli.console import debug_enabled, report_console, stderr_console
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.run import RunStatus
from hullcheck.storage import HistoryStore, RunSummary, default_history_path

HISTORY_SCHEMA_VERSION = 1
"""Version of the ``history --format json`` layout. Raise it on any incompatible change."""

_STATUS_STYLES = {
    RunStatus.RUNNING: "cyan",
    RunStatus.COMPLETE: "green",
    RunStatus.PARTIAL: "yellow",
    RunStatus.FAILED: "bold red",
    RunStatus.INTERRUPTED: "magenta",
}


class HistoryFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def render_history_json(runs: list[RunSummary], database: Path) -> str:
    document = {
        "schema_version": HISTORY_SCHEMA_VERSION,
        "database": str(database),
        "runs": [run.model_dump(mode="json") for run in runs],
    }
    return json.dumps(document, indent=2)


def render_history_table(runs: list[RunSummary], database: Path, console: Console) -> None:
    # Cells are Text objects, so brackets in commands or paths are never read as markup.
    table = Table(title=Text(f"Scan history in {database}"), title_justify="left")
    table.add_column("Run", justify="right", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Command")
    table.add_column("Status", no_wrap=True)
    table.add_column("Images")
    table.add_column("Critical", justify="right")
    table.add_column("High", justify="right")
    table.add_column("Trivy", no_wrap=True)
    table.add_column("DB updated", no_wrap=True)
    for run in runs:
        table.add_row(
            Text(str(run.run_id)),
            Text(_format_time(run.started_at)),
            Text(_format_duration(run.started_at, run.finished_at)),
            Text(run.command),
            Text(run.status.value, style=_STATUS_STYLES[run.status]),
            _format_images(run),
            Text(_format_count(run.critical, run.fixable_critical)),
            Text(_format_count(run.high, run.fixable_high)),
            Text(run.trivy_version or "-"),
            Text(_format_time(run.db_updated_at)),
        )
    console.print(table)


def _format_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    # Aware times are shown in the local zone. Naive ones were saved without a zone and are
    # shown as they are.
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M")


def _format_duration(started_at: datetime, finished_at: datetime | None) -> str:
    if finished_at is None:
        return "-"
    try:
        elapsed = finished_at - started_at
    except TypeError:
        # One time is naive and the other aware, so the difference is undefined.
        return "?"
    seconds = int(max(elapsed, timedelta()).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _format_images(run: RunSummary) -> Text:
    text = Text(f"{run.images_scanned} scanned")
    if run.images_failed:
        text.append(", ")
        text.append(f"{run.images_failed} failed", style="red")
    if run.images_nothing_analysed:
        text.append(f", {run.images_nothing_analysed} nothing analysed")
    return text


def _format_count(total: int | None, fixable: int | None) -> str:
    if total is None:
        return "-"
    return f"{total} ({fixable} fixable)" if fixable else str(total)


def _fail(error: HullcheckError) -> NoReturn:
    """Print the error and its hint on stderr, each on one unwrapped line, and exit."""
    # Kept here rather than shared with the scan commands so that listing the history does
    # not import the Docker and Compose modules.
    stderr_console.print(Text.assemble(("error: ", "bold red"), error.message), soft_wrap=True)
    if error.hint:
        stderr_console.print(Text.assemble(("hint: ", "yellow"), error.hint), soft_wrap=True)
    if debug_enabled():
        stderr_console.print_exception()
    raise typer.Exit(int(ExitCode.USAGE))


def history_command(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Number of runs to list, newest first.")
    ] = 20,
    output_format: Annotated[
        HistoryFormat, typer.Option("--format", "-f", help="Output format: table or json.")
    ] = HistoryFormat.TABLE,
    database: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="History database file (default: history.db in $HULLCHECK_DATA_DIR, else in "
            "$XDG_DATA_HOME/hullcheck or ~/.local/share/hullcheck).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List past runs with their status, image counts and CRITICAL/HIGH totals."""
    try:
        path = database if database is not None else default_history_path(create=False)
        runs: list[RunSummary] = []
        # Listing creates no file, because a missing default file only means that no run was
        # recorded yet.
        if database is not None or path.exists():
            with HistoryStore.open(path, create=False) as store:
                path = store.path
                runs = store.list_runs(limit)
    except HullcheckError as error:
        _fail(error)

    if output_format is HistoryFormat.JSON:
        typer.echo(render_history_json(runs, path))
        return
    if not runs:
        stderr_console.print(Text(f"No runs recorded in {path} yet."), soft_wrap=True)
        return
    render_history_table(runs, path, report_console())


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
