"""The terminal report: a Rich table per run, then the listed findings per image."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.analysis.models import Severity
from hullcheck.reporting.filters import DEFAULT_SEVERITIES
from hullcheck.reporting.view import (
    HIDDEN_UNFIXED_TEXT,
    NO_VALUE,
    ImageRow,
    ReportView,
    action_text,
    build_view,
    epss_text,
    kev_text,
    row_count_text,
    scanner_text,
    totals_text,
    vendor_note,
)
from hullcheck.run import RunRecord
from hullcheck.scanning.models import ScanStatus

_SEVERITY_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.UNKNOWN: "dim",
}
_STATUS_STYLES = {
    ScanStatus.SCANNED: "green",
    ScanStatus.FAILED: "bold red",
    ScanStatus.NOTHING_ANALYSED: "yellow",
}


def render_table(
    run: RunRecord,
    console: Console,
    *,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed: bool = False,
) -> None:
    """Print the summary table of ``run`` on ``console``, then findings, notes and problems."""
    view = build_view(run, severities=severities, hide_unfixed_findings=hide_unfixed)
    if run.error:
        console.print(Text(f"Run failed: {run.error}", style="bold red"))
    if view.rows:
        console.print(_summary_table(view))
    # Text objects keep brackets in image names and Trivy messages from being read as markup.
    console.print(Text(totals_text(view)))
    console.print(Text(scanner_text(view.scanner) + "."))
    if run.feeds:
        console.print(Text(f"Exploitability data: {run.feeds}."))
    if view.hidden_unfixed:
        console.print(Text(HIDDEN_UNFIXED_TEXT))

    for row in view.rows:
        for note in row.notes:
            console.print(Text(f"note: {row.scan.image}: {note}", style="yellow"))

    for row in view.rows:
        if row.shows_counts and row.listed:
            console.print()
            console.print(_findings_table(row))

    if view.problems:
        console.print()
        console.print(Text("Discovery problems:", style="bold"))
        for problem in view.problems:
            console.print(Text(f"- {problem.message}"))


def _summary_table(view: ReportView) -> Table:
    table = Table(title="Critical and High vulnerabilities per image", title_justify="left")
    table.add_column("Image", overflow="fold")
    table.add_column("Services", overflow="fold")
    table.add_column("Status", overflow="fold")
    table.add_column("Critical", justify="right")
    table.add_column("High", justify="right")
    for row in view.rows:
        table.add_row(
            Text(row.scan.image),
            Text(", ".join(row.scan.services) or NO_VALUE),
            Text(row.status_text, style=_STATUS_STYLES[row.scan.status]),
            _count_cell(row, Severity.CRITICAL),
            _count_cell(row, Severity.HIGH),
        )
    return table


def _count_cell(row: ImageRow, severity: Severity) -> Text:
    text = row_count_text(row, severity)
    has_findings = row.shows_counts and row.counts is not None and row.counts.get(severity) > 0
    return Text(text, style=_SEVERITY_STYLES[severity] if has_findings else "")


def _findings_table(row: ImageRow) -> Table:
    table = Table(title=Text(row.scan.image), title_justify="left")
    table.add_column("Severity")
    table.add_column("ID", overflow="fold")
    table.add_column("Package", overflow="fold")
    table.add_column("Installed", overflow="fold")
    table.add_column("Fixed", overflow="fold")
    table.add_column("Status")
    table.add_column("KEV")
    table.add_column("EPSS", justify="right")
    table.add_column("Action", overflow="fold")
    for finding in row.listed:
        severity = finding.severity.value
        note = vendor_note(finding)
        if note:
            severity += f" ({note})"
        for package in finding.packages:
            table.add_row(
                Text(severity, style=_SEVERITY_STYLES[finding.severity]),
                Text(finding.vulnerability_id),
                Text(package.name),
                Text(package.installed_version or NO_VALUE),
                Text(package.fixed_version or NO_VALUE),
                Text(package.status or NO_VALUE),
                Text(kev_text(finding), style="bold red"),
                Text(epss_text(finding)),
                Text(action_text(finding)),
            )
    return table
