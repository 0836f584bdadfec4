"""One hullcheck run: what was discovered and scanned, and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from hullcheck.analysis.models import SEVERITIES, Severity, SeverityCounts
from hullcheck.deployment.models import ServiceUpdate
from hullcheck.discovery.models import DiscoveryProblem
from hullcheck.scanning.models import ImageScan, ScannerInfo, ScanStatus

REPORT_SCHEMA_VERSION = 1
"""Version of the JSON report layout; raise it on any incompatible change."""


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    """Every image was scanned."""
    PARTIAL = "partial"
    """The run finished, but one or more images failed to scan."""
    FAILED = "failed"
    """The run could not scan anything (no scanner, no DB)."""
    INTERRUPTED = "interrupted"


class RunRecord(BaseModel):
    run_id: int | None = None
    command: str
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus = RunStatus.RUNNING
    error: str | None = None
    scanner: ScannerInfo | None = None
    images: list[ImageScan] = []
    problems: list[DiscoveryProblem] = []
    feeds: str | None = None
    """Status of the KEV and EPSS feeds for this run; None when they were not consulted."""
    updates: list[ServiceUpdate] = []
    """Per-service results of an update run; empty for a scan."""

    def totals(self) -> SeverityCounts:
        """Unique vulnerability IDs per severity summed over scanned images."""
        totals = SeverityCounts()
        for scan in self.images:
            if scan.findings is None:
                continue
            counts = scan.findings.counts()
            for severity in SEVERITIES:
                setattr(totals, severity.value, totals.get(severity) + counts.get(severity))
        return totals

    def failed_images(self) -> list[ImageScan]:
        return [scan for scan in self.images if scan.status is ScanStatus.FAILED]

    def reaches(self, threshold: Severity, *, fixable_only: bool = False) -> bool:
        """True when any scanned image has a finding at or above ``threshold``."""
        for scan in self.images:
            if scan.findings is None:
                continue
            for finding in scan.findings.findings:
                # An accepted risk is shown but never gates.
                if finding.accepted is not None or (fixable_only and not finding.fixable):
                    continue
                if finding.severity.rank >= threshold.rank:
                    return True
        return False
