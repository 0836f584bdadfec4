"""The Markdown report: a summary table, then the listed findings of each image."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
    format_time,
    kev_text,
    row_count_text,
    scanner_text,
    totals_text,
    vendor_note,
)
from hullcheck.run import RunRecord
from hullcheck.scanning.models import ScanStatus

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def render_markdown(
    run: RunRecord,
    *,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed: bool = False,
) -> str:
    """Render ``run`` as a Markdown document ending in a newline."""
    view = build_view(run, severities=severities, hide_unfixed_findings=hide_unfixed)
    sections = [
        _header(view),
        _summary(view),
        _findings(view),
        _failures(view),
        _problems(view),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def escape(text: str) -> str:
    """Escape Markdown syntax and line breaks so that ``text`` stays inside one table cell."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _header(view: ReportView) -> str:
    run = view.run
    run_name = f"`{run.command}` run" + (f" {run.run_id}" if run.run_id is not None else "")
    paragraphs = [
        "# hullcheck report",
        f"{run_name}: started {format_time(run.started_at)}, "
        f"finished {format_time(run.finished_at)}, status **{run.status.value}**.",
        f"Scanner: {escape(scanner_text(view.scanner))}.",
        *([f"Exploitability data: {escape(view.run.feeds)}."] if view.run.feeds else []),
    ]
    if run.error:
        paragraphs.append(f"Run failed: {escape(run.error)}")
    return "\n\n".join(paragraphs)


def _summary(view: ReportView) -> str:
    if not view.rows:
        return "## Summary\n\n" + totals_text(view)
    lines = [
        "## Summary",
        "",
        "| Image | Services | Status | Critical | High |",
        "|---|---|---|---|---|",
    ]
    for row in view.rows:
        services = ", ".join(row.scan.services) or NO_VALUE
        lines.append(
            f"| `{row.scan.image}` | {escape(services)} | {escape(row.status_text)} "
            f"| {row_count_text(row, Severity.CRITICAL)} | {row_count_text(row, Severity.HIGH)} |"
        )
    lines += ["", escape(totals_text(view))]
    if view.hidden_unfixed:
        lines += ["", HIDDEN_UNFIXED_TEXT]
    return "\n".join(lines)


def _findings(view: ReportView) -> str:
    names = "/".join(severity.value for severity in view.severities)
    parts = [f"## {names} findings"]
    # Failed and not analysed images have no findings to list, and their own section gives the reason.
    parts += [_image_findings(row, names) for row in view.rows if row.shows_counts]
    if len(parts) == 1:
        return ""
    return "\n\n".join(parts)


def _image_findings(row: ImageRow, names: str) -> str:
    scan = row.scan
    lines = [f"### `{scan.image}`", ""]
    facts = []
    if scan.image_id:
        facts.append(f"Image ID `{scan.image_id}`")
    findings = scan.findings
    if findings is not None and (findings.os_family or findings.os_name):
        os_name = " ".join(part for part in (findings.os_family, findings.os_name) if part)
        facts.append(f"OS {escape(os_name)}")
    if facts:
        lines += ["; ".join(facts) + ".", ""]
    for note in row.notes:
        lines += [f"Note: {escape(note)}.", ""]

    if not row.listed:
        lines.append(f"No {names} findings.")
        return "\n".join(lines)

    lines.append(
        "| Severity | ID | Package | Installed | Fixed | Status | KEV | EPSS | Action | Title |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for finding in row.listed:
        severity = finding.severity.value
        nvd_severity = vendor_note(finding)
        if nvd_severity:
            severity += f" ({nvd_severity})"
        identifier = escape(finding.vulnerability_id)
        if finding.primary_url:
            identifier = f"[{identifier}](<{finding.primary_url}>)"
        for package in finding.packages:
            lines.append(
                f"| {severity} | {identifier} | {escape(package.name)} "
                f"| {escape(package.installed_version or NO_VALUE)} "
                f"| {escape(package.fixed_version or NO_VALUE)} "
                f"| {escape(package.status or NO_VALUE)} | {kev_text(finding)} | {epss_text(finding)} "
                f"| {action_text(finding)} | {escape(finding.title or '')} |"
            )
    return "\n".join(lines)


def _failures(view: ReportView) -> str:
    rows = [row for row in view.rows if row.scan.status is not ScanStatus.SCANNED]
    if not rows:
        return ""
    lines = ["## Failed and not analysed images", ""]
    lines += [f"- `{row.scan.image}`: {escape(row.status_text)}" for row in rows]
    return "\n".join(lines)


def _problems(view: ReportView) -> str:
    if not view.problems:
        return ""
    lines = ["## Discovery problems", ""]
    for problem in view.problems:
        where = [str(problem.file)] if problem.file else []
        if problem.service:
            where.append(f"service {problem.service}")
        suffix = f" ({escape(', '.join(where))})" if where else ""
        lines.append(f"- {escape(problem.message)}{suffix}")
    return "\n".join(lines)
