"""``hullcheck summarize``: the hullcheck report for Trivy JSON files that already exist."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from hullcheck.analysis.models import ImageFindings, Severity
from hullcheck.analysis.trivy_json import load_trivy_report, parse_trivy_json
from hullcheck.cli.common import EpssUrlOption, KevUrlOption, RisksFileOption, exploitability
from hullcheck.cli.console import debug_enabled, report_console, stderr_console
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.exploitability import expired_problems
from hullcheck.fileio import write_atomic
from hullcheck.reporting import (
    hide_unfixed,
    parse_severity_list,
    render_json,
    render_markdown,
    render_table,
)
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ImageScan, ScanStatus

logger = logging.getLogger(__name__)

STDIN_PATH = "-"

TABLE_FILE_WIDTH = 120
"""Column width of a table report written with ``--output``, where no terminal sets it."""


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def build_summary_run(paths: Sequence[Path], *, now: datetime) -> RunRecord:
    """Read each Trivy report in ``paths`` into one image of a ``summarize`` run.

    Raises ``HullcheckError`` for the first file that cannot be read or parsed, because a
    report that silently lacks an image would look complete.
    """
    images = [_image_scan(path, _load(path)) for path in paths]
    return RunRecord(
        command="summarize",
        started_at=now,
        finished_at=now,
        status=RunStatus.COMPLETE,
        images=images,
    )


def _load(path: Path) -> ImageFindings:
    """Read one report, from standard input when the path is ``-``."""
    if str(path) == STDIN_PATH:
        return parse_trivy_json(sys.stdin.buffer.read(), source="<stdin>")
    return load_trivy_report(path)


def _image_scan(path: Path, findings: ImageFindings) -> ImageScan:
    if findings.analysed:
        status, reason = ScanStatus.SCANNED, None
    else:
        status, reason = ScanStatus.NOTHING_ANALYSED, _nothing_analysed_reason(findings)
        logger.warning("%s: nothing analysed: %s", path, reason)
    return ImageScan(
        image=findings.artifact_name or str(path),
        image_id=findings.image_id,
        repo_digests=findings.repo_digests,
        status=status,
        reason=reason,
        findings=findings,
    )


def _nothing_analysed_reason(findings: ImageFindings) -> str:
    if findings.os_family:
        detected = f"Trivy detected no OS (family {findings.os_family!r})"
    else:
        detected = "Trivy detected no OS"
    return f"{detected} and no packages"


def summarize_command(
    reports: Annotated[
        list[Path],
        typer.Argument(
            metavar="TRIVY_JSON...",
            help="Files written by `trivy image --format json`, one image each, "
            "or - for standard input.",
            show_default=False,
        ),
    ],
    report_format: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="Report format on stdout or in --output."),
    ] = ReportFormat.TABLE,
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
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on",
            case_sensitive=False,
            help="Exit with code 1 when a finding at or above this severity exists.",
        ),
    ] = None,
    hide_unfixed_findings: Annotated[
        bool,
        typer.Option(
            "--hide-unfixed",
            help="Leave out vulnerabilities that have no fixed version "
            "(affected, will_not_fix, fix_deferred, end_of_life and unknown statuses).",
        ),
    ] = False,
    kev_url: KevUrlOption = None,
    epss_url: EpssUrlOption = None,
    risks_file: RisksFileOption = None,
) -> None:
    """Report the Critical and High findings of existing Trivy JSON reports."""
    try:
        severities = parse_severity_list(severity)
        run = build_summary_run(reports, now=datetime.now(UTC))
        risk = exploitability(kev_url, epss_url, risks_file)
        run.images = [risk.apply(scan) for scan in run.images]
        run.feeds = risk.status_text
        run.problems.extend(expired_problems(risk))
        _emit(run, report_format, output, severities, hide_unfixed_findings)
    except HullcheckError as error:
        _fail(error)

    # The threshold applies to what the report shows, so hidden findings cannot trip it.
    reported_run = hide_unfixed(run) if hide_unfixed_findings else run
    if fail_on is not None and reported_run.reaches(fail_on):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _emit(
    run: RunRecord,
    report_format: ReportFormat,
    output: Path | None,
    severities: Sequence[Severity],
    hide_unfixed_findings: bool,
) -> None:
    """Print the report on stdout, or write it atomically to ``output``."""
    if report_format is ReportFormat.TABLE and output is None:
        render_table(
            run, report_console(), severities=severities, hide_unfixed=hide_unfixed_findings
        )
        return

    if report_format is ReportFormat.TABLE:
        buffer = io.StringIO()
        console = Console(file=buffer, width=TABLE_FILE_WIDTH)
        render_table(run, console, severities=severities, hide_unfixed=hide_unfixed_findings)
        text = buffer.getvalue()
    elif report_format is ReportFormat.JSON:
        text = render_json(run, severities=severities, hide_unfixed=hide_unfixed_findings)
    else:
        text = render_markdown(run, severities=severities, hide_unfixed=hide_unfixed_findings)

    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text)
        logger.info("Report written to %s", output)


def _fail(error: HullcheckError) -> NoReturn:
    """Print the error as one line plus a hint on stderr and exit with the usage code."""
    # Text objects keep brackets in paths and JSON field names from being read as markup.
    # soft_wrap keeps Rich from breaking the line at the console width, so it stays one line.
    stderr_console.print(Text.assemble(("error:", "bold red"), " ", error.message), soft_wrap=True)
    if error.hint:
        stderr_console.print(Text.assemble(("hint:", "yellow"), " ", error.hint), soft_wrap=True)
    if debug_enabled():
        stderr_console.print_exception()
    raise typer.Exit(int(ExitCode.USAGE))


def register(app: typer.Typer) -> None:
    app.command("summarize")(summarize_command)
