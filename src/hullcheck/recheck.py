"""Re-match the SBOMs stored at scan time against the current DB: no pull, no image analysis."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hullcheck.analysis.delta import finding_delta
from hullcheck.analysis.models import ImageFindings
from hullcheck.orchestrator import (
    SBOM_WORKERS,
    ProgressCallback,
    ProgressEvent,
    RunStore,
    Scanner,
    Stage,
)
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import FailureClass, ImageScan, ScannerError, ScanSource, ScanStatus
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import ImageScanError

logger = logging.getLogger(__name__)


@dataclass
class ImageChanges:
    image: str
    image_id: str | None
    new: list[str] = field(default_factory=list)
    """Vulnerability IDs the current DB reports that the previous scan did not."""
    resolved: list[str] = field(default_factory=list)
    """IDs the previous scan reported that the current DB no longer matches."""


@dataclass
class RecordWithChanges:
    record: RunRecord
    changes: list[ImageChanges]


def run_recheck(
    previous: RunRecord,
    *,
    scanner: Scanner,
    reuse: ScanReuse,
    store: RunStore | None = None,
    progress: ProgressCallback | None = None,
) -> RecordWithChanges:
    """Match each image of ``previous`` again through its stored SBOM and list what changed."""
    notify = progress or (lambda event: None)
    record = RunRecord(command="recheck", started_at=datetime.now(UTC))
    record.run_id = store.begin_run(record, pid=os.getpid()) if store else None
    changes: list[ImageChanges] = []
    try:
        notify(ProgressEvent(Stage.PREPARE, "vulnerability DB"))
        try:
            record.scanner = scanner.prepare()
        except ScannerError as error:
            record.error = str(error)
            _finish(record, store, RunStatus.FAILED)
            return RecordWithChanges(record, changes)

        candidates = [
            scan for scan in previous.images if scan.image_id and scan.findings is not None
        ]
        # One batch: images on one OS release share a Trivy process.
        sboms = [reuse.sbom_path(scan.image_id) for scan in candidates if scan.image_id]
        existing = [sbom for sbom in sboms if sbom.exists()]
        matched = scanner.scan_sboms(existing, workers=SBOM_WORKERS) if existing else {}
        for index, earlier in enumerate(candidates, start=1):
            notify(ProgressEvent(Stage.SCAN, earlier.image, index, len(candidates)))
            scan = _recheck_one(reuse, earlier, matched)
            record.images.append(scan)
            if store and record.run_id is not None:
                store.save_image(record.run_id, scan)
            if scan.findings is not None and earlier.findings is not None:
                delta = finding_delta(earlier.findings, scan.findings)
                changes.append(ImageChanges(scan.image, scan.image_id, delta.new, delta.fixed))

        failed = len(record.failed_images())
        status = (
            RunStatus.COMPLETE
            if not failed
            else RunStatus.FAILED
            if failed == len(record.images)
            else RunStatus.PARTIAL
        )
        _finish(record, store, status)
        return RecordWithChanges(record, changes)
    except BaseException as error:
        record.error = record.error or f"interrupted: {type(error).__name__}"
        _finish(record, store, RunStatus.INTERRUPTED)
        raise


def _recheck_one(
    reuse: ScanReuse,
    earlier: ImageScan,
    matched: Mapping[Path, ImageFindings | ImageScanError],
) -> ImageScan:
    assert earlier.image_id is not None
    sbom = reuse.sbom_path(earlier.image_id)
    found = matched.get(sbom)
    if found is None:
        return _result(
            earlier,
            status=ScanStatus.FAILED,
            failure=FailureClass.IMAGE_UNAVAILABLE,
            reason="no stored SBOM for this image: run hullcheck scan once to store it",
        )
    if isinstance(found, ImageScanError):
        logger.error("Recheck of %s failed: %s", earlier.image, found)
        return _result(earlier, status=ScanStatus.FAILED, failure=found.failure, reason=str(found))
    return _result(
        earlier,
        status=ScanStatus.SCANNED if found.analysed else ScanStatus.NOTHING_ANALYSED,
        findings=found,
    )


def _result(
    earlier: ImageScan,
    *,
    status: ScanStatus,
    failure: FailureClass | None = None,
    reason: str | None = None,
    findings: ImageFindings | None = None,
    duration_seconds: float | None = None,
) -> ImageScan:
    """Return a new result for the same image and services as ``earlier``."""
    return ImageScan(
        image=earlier.image,
        image_id=earlier.image_id,
        repo_digests=earlier.repo_digests,
        services=earlier.services,
        status=status,
        failure=failure,
        reason=reason,
        findings=findings,
        duration_seconds=duration_seconds,
        source=ScanSource.SBOM,
    )


def _finish(record: RunRecord, store: RunStore | None, status: RunStatus) -> None:
    record.status = status
    record.finished_at = datetime.now(UTC)
    if store and record.run_id is not None:
        store.finish_run(
            record.run_id,
            status,
            scanner=record.scanner,
            error=record.error,
            finished_at=record.finished_at,
        )
