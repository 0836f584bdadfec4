"""Compare two runs image by image: new, fixed and still-open vulnerability IDs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from hullcheck.analysis.models import Finding, ImageFindings, Severity
from hullcheck.run import RunRecord
from hullcheck.scanning.models import ImageScan


class ChangedFinding(BaseModel):
    vulnerability_id: str
    severity: Severity
    packages: list[str]
    fixed_versions: list[str]
    first_seen: datetime | None = None


class ImageDiff(BaseModel):
    image: str
    status: str
    """``compared``, ``new image``, ``gone`` or ``not comparable`` (a scan failed)."""
    reason: str | None = None
    """Reason the image could not be compared."""
    new: list[ChangedFinding] = []
    fixed: list[ChangedFinding] = []
    still_open: list[ChangedFinding] = []


FirstSeen = Callable[[str], dict[str, datetime]]


def diff_runs(
    older: RunRecord, newer: RunRecord, first_seen: FirstSeen | None = None
) -> list[ImageDiff]:
    """Match images by their reference and compare their findings.

    An image whose scan failed in either run is "not comparable": its findings are
    unknown, so nothing is claimed fixed or new.
    """
    before = {scan.image: scan for scan in older.images}
    after = {scan.image: scan for scan in newer.images}
    result = []
    for image in sorted(before.keys() | after.keys()):
        old, new = before.get(image), after.get(image)
        dates = first_seen(image) if first_seen is not None and new is not None else {}
        result.append(_compare(image, old, new, dates))
    return result


def _compare(
    image: str, old: ImageScan | None, new: ImageScan | None, dates: dict[str, datetime]
) -> ImageDiff:
    if new is None:
        return ImageDiff(image=image, status="gone")
    if new.findings is None or (old is not None and old.findings is None):
        failed = new if new.findings is None else old
        assert failed is not None
        return ImageDiff(
            image=image, status="not comparable", reason=failed.reason or "the scan has no result"
        )
    current = _by_id(new.findings)
    if old is None:
        return ImageDiff(
            image=image, status="new image", new=[_changed(f, dates) for f in current.values()]
        )
    assert old.findings is not None
    previous = _by_id(old.findings)
    return ImageDiff(
        image=image,
        status="compared",
        new=[_changed(current[key], dates) for key in sorted(current.keys() - previous.keys())],
        fixed=[_changed(previous[key], dates) for key in sorted(previous.keys() - current.keys())],
        still_open=[
            _changed(current[key], dates) for key in sorted(current.keys() & previous.keys())
        ],
    )


def _by_id(findings: ImageFindings) -> dict[str, Finding]:
    return {finding.vulnerability_id: finding for finding in findings.findings}


def _changed(finding: Finding, dates: dict[str, datetime]) -> ChangedFinding:
    return ChangedFinding(
        vulnerability_id=finding.vulnerability_id,
        severity=finding.severity,
        packages=sorted({package.name for package in finding.packages}),
        fixed_versions=finding.fixed_versions,
        first_seen=dates.get(finding.vulnerability_id),
    )
