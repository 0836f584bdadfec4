"""Reports of an update run: one row per service with its action, reason and finding delta."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.analysis.models import Severity
from hullcheck.deployment.models import ServiceUpdate, UpdateAction
from hullcheck.reporting.filters import DEFAULT_SEVERITIES
from hullcheck.reporting.json_report import report_object
from hullcheck.reporting.view import build_view
from hullcheck.run import REPORT_SCHEMA_VERSION, RunRecord

ACTION_STYLES = {
    UpdateAction.UPDATED: "green",
    UpdateAction.HELD: "yellow",
    UpdateAction.ROLLED_BACK: "red",
    UpdateAction.FAILED: "bold red",
}


def update_object(update: ServiceUpdate) -> dict[str, object]:
    return update.model_dump(mode="json")


def render_update_json(
    run: RunRecord, *, dry_run: bool, severities: Sequence[Severity] = DEFAULT_SEVERITIES
) -> str:
    """Render an update run as JSON: the per-service actions, then the scans behind them."""
    document = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "dry_run": dry_run,
        "run": {
            "id": run.run_id,
            "command": run.command,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "status": run.status.value,
            "error": run.error,
        },
        "services": [update_object(update) for update in run.updates],
        "scan": report_object(build_view(run, severities=severities, hide_unfixed_findings=False)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_update_table(run: RunRecord, console: Console, *, dry_run: bool) -> None:
    """Print one row per service: action, reason and how the update changes the findings."""
    title = "Update plan (dry run: nothing was changed)" if dry_run else "Update results"
    table = Table(
        title=title,
        title_justify="left",
        caption="Fixed, New and Open count vulnerability IDs of every severity, running image against the new one.",
    )
    for column in ("Service", "Image", "Action", "Fixed", "New", "Open", "Reason"):
        table.add_column(column, overflow="fold")
    for update in run.updates:
        delta = update.delta
        counts = (
            [str(len(ids)) for ids in (delta.fixed, delta.new, delta.open)]
            if delta
            else ["-", "-", "-"]
        )
        reason = update.reason
        if update.escalations:
            reason += " | ATTENTION: " + "; ".join(update.escalations)
        table.add_row(
            Text(f"{update.project}/{update.service}"),
            Text(update.image or "-"),
            Text(update.action.value, style=ACTION_STYLES.get(update.action, "")),
            *counts,
            Text(reason),
        )
    console.print(table)
    for update in run.updates:
        if update.newer_tags:
            shown = ", ".join(update.newer_tags[:5])
            console.print(
                Text(
                    f"{update.project}/{update.service}: newer tags in the registry (not applied): {shown}"
                )
            )
        if update.delta and update.delta.new:
            console.print(
                Text(f"{update.project}/{update.service} brings: {', '.join(update.delta.new)}")
            )
    if run.error:
        console.print(Text(f"Run error: {run.error}", style="bold red"))
