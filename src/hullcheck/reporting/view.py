"""The data every report shows, computed once from a run so that all formats agree.

The renderers only format a :class:`ReportView`. Above all, an image that failed or in
which Trivy analysed nothing has no counts here, so no format can show it as 0 Critical /
0 High.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hullcheck.analysis.models import SEVERITIES, Finding, Severity, SeverityCounts
from hullcheck.discovery.models import DiscoveryProblem
from hullcheck.reporting.filters import DEFAULT_SEVERITIES, hide_unfixed, select_findings
from hullcheck.run import RunRecord
from hullcheck.scanning.models import ImageScan, ScanStatus

NO_VALUE = "—"
"""Shown in place of a count or version that does not exist."""

VENDOR_LEVELS = {
    0: Severity.UNKNOWN,
    1: Severity.LOW,
    2: Severity.MEDIUM,
    3: Severity.HIGH,
    4: Severity.CRITICAL,
}
"""Trivy's VendorSeverity integers."""

HIDDEN_UNFIXED_TEXT = "Vulnerabilities without a fixed version are hidden from counts and lists."


@dataclass(frozen=True)
class ImageRow:
    """One image of the run as the reports show it."""

    scan: ImageScan
    status_text: str
    """``scanned``, ``scan failed: <reason>`` or ``nothing analysed: <reason>``."""
    counts: SeverityCounts | None
    """Unique vulnerability IDs per severity, or None for a failed image."""
    fixable_counts: SeverityCounts | None
    listed: tuple[Finding, ...]
    """Findings of the selected severities, for the detail sections."""
    notes: tuple[str, ...]
    """Warnings about the result, such as an operating system past its end of life."""

    @property
    def shows_counts(self) -> bool:
        """False for failed and not analysed images: their counts are never shown as zero."""
        return self.scan.status is ScanStatus.SCANNED and self.counts is not None


@dataclass(frozen=True)
class ScannerLine:
    trivy_version: str | None
    """Trivy's version, or several versions joined by commas for reports of mixed origin."""
    db_updated_at: datetime | None
    db_age_days: int | None
    """Age of the vulnerability DB at the end of the run, in whole days."""


@dataclass(frozen=True)
class ReportView:
    run: RunRecord
    rows: tuple[ImageRow, ...]
    scanner: ScannerLine
    totals: SeverityCounts
    """Summed over images that show counts."""
    fixable_totals: SeverityCounts
    problems: tuple[DiscoveryProblem, ...]
    severities: tuple[Severity, ...]
    hidden_unfixed: bool

    def count(self, status: ScanStatus) -> int:
        return sum(1 for row in self.rows if row.scan.status is status)


def build_view(
    run: RunRecord,
    *,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed_findings: bool = False,
) -> ReportView:
    """Prepare the rows, totals and scanner line of ``run`` for rendering."""
    if hide_unfixed_findings:
        run = hide_unfixed(run)
    ordered = tuple(sorted(set(severities), key=lambda severity: -severity.rank))
    rows = tuple(_build_row(scan, ordered) for scan in run.images)

    totals = SeverityCounts()
    fixable_totals = SeverityCounts()
    for row in rows:
        if row.shows_counts and row.counts is not None and row.fixable_counts is not None:
            _add(totals, row.counts)
            _add(fixable_totals, row.fixable_counts)

    return ReportView(
        run=run,
        rows=rows,
        scanner=_scanner_line(run),
        totals=totals,
        fixable_totals=fixable_totals,
        problems=tuple(run.problems),
        severities=ordered,
        hidden_unfixed=hide_unfixed_findings,
    )


def count_text(total: int, fixable: int) -> str:
    """Format a count with its fixable part: ``2 (1 fixable)``, or ``0``."""
    if total == 0:
        return "0"
    return f"{total} ({fixable} fixable)"


def totals_text(view: ReportView) -> str:
    """Describe the Critical and High totals in one sentence, saying when images lack a result."""
    scanned = view.count(ScanStatus.SCANNED)
    if not view.rows:
        return "No images to report."
    if scanned == 0:
        return "No image has a scan result, so there are no totals."
    text = (
        f"Total over {scanned} scanned of {len(view.rows)} images: "
        f"{count_text(view.totals.CRITICAL, view.fixable_totals.CRITICAL)} Critical, "
        f"{count_text(view.totals.HIGH, view.fixable_totals.HIGH)} High"
    )
    missing = len(view.rows) - scanned
    if missing:
        subject = "1 image has" if missing == 1 else f"{missing} images have"
        text += f"; {subject} no result, so the totals are incomplete"
    return text + "."


def row_count_text(row: ImageRow, severity: Severity) -> str:
    if not row.shows_counts or row.counts is None or row.fixable_counts is None:
        return NO_VALUE
    return count_text(row.counts.get(severity), row.fixable_counts.get(severity))


def vendor_note(finding: Finding) -> str | None:
    """Name NVD's severity when it differs from Trivy's, which classifies the finding."""
    level = finding.vendor_severity.get("nvd")
    if level is None:
        return None
    nvd = VENDOR_LEVELS.get(level, Severity.UNKNOWN)
    if nvd is finding.severity:
        return None
    return f"NVD: {nvd.value}"


def format_time(moment: datetime | None) -> str:
    if moment is None:
        return NO_VALUE
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def scanner_text(scanner: ScannerLine) -> str:
    """One line naming the Trivy version and the DB date, with the DB's age."""
    version = scanner.trivy_version or "unknown"
    if scanner.db_updated_at is None:
        database = "vulnerability DB date unknown"
    else:
        database = f"vulnerability DB updated {format_time(scanner.db_updated_at)}"
        if scanner.db_age_days is not None:
            unit = "day" if scanner.db_age_days == 1 else "days"
            database += f" ({scanner.db_age_days} {unit} old at the end of the run)"
    return f"Trivy {version}, {database}"


def _build_row(scan: ImageScan, severities: tuple[Severity, ...]) -> ImageRow:
    findings = scan.findings
    notes: list[str] = []
    if findings is not None and findings.os_eosl:
        os_name = " ".join(part for part in (findings.os_family, findings.os_name) if part)
        notes.append(
            f"{os_name or 'the OS'} is past its end of life: the distribution no longer "
            "publishes security updates for it, so Trivy may miss vulnerabilities"
        )

    if scan.status is ScanStatus.FAILED or findings is None:
        reason = scan.reason or (scan.failure.value if scan.failure else "no result recorded")
        return ImageRow(scan, _labelled("scan failed", reason), None, None, (), tuple(notes))

    counts = findings.counts()
    fixable = findings.counts(fixable_only=True)
    listed = tuple(select_findings(findings.findings, severities))
    if scan.status is ScanStatus.NOTHING_ANALYSED:
        reason = scan.reason or "Trivy detected no OS and no packages"
        status_text = _labelled("nothing analysed", reason)
    else:
        status_text = "scanned"
    return ImageRow(scan, status_text, counts, fixable, listed, tuple(notes))


def _labelled(label: str, reason: str) -> str:
    """Prefix ``reason`` with ``label`` unless the reason already starts with it."""
    text = reason.strip()
    if text.lower().startswith(label):
        return text
    return f"{label}: {text}"


def _scanner_line(run: RunRecord) -> ScannerLine:
    version: str | None
    updated_at: datetime | None = None
    if run.scanner is not None:
        version = run.scanner.trivy_version
        if run.scanner.database is not None:
            updated_at = run.scanner.database.updated_at
    else:
        # Reports summarised from files carry the version of the Trivy that wrote each one.
        versions = sorted(
            {
                scan.findings.trivy_version
                for scan in run.images
                if scan.findings and scan.findings.trivy_version
            }
        )
        version = ", ".join(versions) or None

    age_days = None
    reference = run.finished_at or run.started_at
    if updated_at is not None:
        age = _as_utc(reference) - _as_utc(updated_at)
        age_days = max(age.days, 0)
    return ScannerLine(version, updated_at, age_days)


def _as_utc(moment: datetime) -> datetime:
    """Read a naive time as UTC so that naive and aware times can be compared."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _add(total: SeverityCounts, counts: SeverityCounts) -> None:
    for severity in SEVERITIES:
        setattr(total, severity.value, total.get(severity) + counts.get(severity))


def kev_text(finding: Finding) -> str:
    """Return ``KEV`` (``KEV ransomware`` when the catalog marks ransomware use), else ""."""
    if finding.kev is None:
        return ""
    return "KEV ransomware" if finding.kev.known_ransomware else "KEV"


def epss_text(finding: Finding) -> str:
    """Return the EPSS probability as a percentage, e.g. ``94.4%``, else the empty string."""
    return f"{finding.epss.probability * 100:.1f}%" if finding.epss is not None else ""


def action_text(finding: Finding) -> str:
    """What the owner can do: accepted, fix now (a fixed version exists) or wait on upstream."""
    if finding.accepted is not None:
        return f"accepted until {finding.accepted.expires.isoformat()}"
    return "fix now" if finding.fixable else "waiting on upstream"
