"""``hullcheck diff``: what changed between two stored runs, image by image."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hullcheck.analysis.history_diff import ImageDiff, diff_runs
from hullcheck.cli.common import HistoryDbOption, fail
from hullcheck.cli.console import report_console
from hullcheck.errors import HullcheckError
from hullcheck.run import REPORT_SCHEMA_VERSION, RunStatus
from hullcheck.storage import HistoryStore

COMPARABLE_COMMANDS = ("scan", "demo")
FINISHED = (RunStatus.COMPLETE, RunStatus.PARTIAL)


def diff_command(
    runs: Annotated[
        list[int] | None,
        typer.Argument(
            help="RUN_A RUN_B to compare (default: the last two finished scans).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    history_db: HistoryDbOption = None,
) -> None:
    """Show per image the findings that are new, fixed and still open between two runs."""
    if output_format not in ("table", "json"):
        fail(HullcheckError(f"invalid --format {output_format!r}", hint="use table or json"))
    if runs and len(runs) != 2:
        fail(
            HullcheckError(
                f"diff takes two run IDs, got {len(runs)}", hint="e.g. hullcheck diff 12 15"
            )
        )
    try:
        with HistoryStore.open(history_db, create=False) as store:
            if runs:
                older_id, newer_id = sorted(runs)
            else:
                finished = [
                    s.run_id
                    for s in store.list_runs(limit=200)
                    if s.command in COMPARABLE_COMMANDS and s.status in FINISHED
                ]
                if len(finished) < 2:
                    fail(
                        HullcheckError(
                            "fewer than two finished scans in the history",
                            hint="run hullcheck scan twice, or name two runs",
                        )
                    )
                newer_id, older_id = finished[0], finished[1]
            older, newer = store.load_run(older_id), store.load_run(newer_id)
            diffs = diff_runs(
                older, newer, lambda image: store.first_seen(image, up_to_run=newer_id)
            )
    except HullcheckError as error:
        fail(error)

    if output_format == "json":
        document = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "older": older_id,
            "newer": newer_id,
            "images": [diff.model_dump(mode="json") for diff in diffs],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    render_diff_table(diffs, older_id, newer_id)


def render_diff_table(diffs: list[ImageDiff], older_id: int, newer_id: int) -> None:
    console = report_console()
    table = Table(title=f"Changes from run {older_id} to run {newer_id}", title_justify="left")
    for column in ("Image", "Status", "New", "Fixed", "Still open"):
        table.add_column(column, overflow="fold")
    for diff in diffs:
        # Only compared images have numbers; zeros would claim nothing changed.
        counted = diff.status in ("compared", "new image")
        counts = [
            str(len(items)) if counted else "-" for items in (diff.new, diff.fixed, diff.still_open)
        ]
        status = f"{diff.status}: {diff.reason}" if diff.reason else diff.status
        table.add_row(Text(diff.image), Text(status), *counts)
    console.print(table)
    for diff in diffs:
        for finding in diff.new:
            seen = finding.first_seen.date().isoformat() if finding.first_seen else "unknown"
            console.print(
                Text(
                    f"{diff.image}: new {finding.severity.value} {finding.vulnerability_id} in {', '.join(finding.packages)} (first seen {seen})"
                )
            )


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)
