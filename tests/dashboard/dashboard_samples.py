"""A small history with every kind of run, written through HistoryStore as scans write it.

Run 1 is complete, run 2 failed before scanning anything, run 3 is partial (the database
image timed out) and run 4, the newest finished run, is partial with one failed image.
Run 5 is still running. Image names and reasons carry HTML syntax to check escaping.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)
from hullcheck.storage import HistoryStore

APP = "127.0.0.1:5000/shop/app:1"
DB = "docker.io/library/postgres:16-alpine"
CACHE = "docker.io/library/redis:7.2-alpine3.21"
DB_UPDATED_AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
FIRST_START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOSTILE_REASON = 'timed out: <script>alert("x")</script> & more'


def finding(vulnerability_id: str, severity: Severity, package: str, fixed: str | None) -> Finding:
    return Finding(
        vulnerability_id=vulnerability_id,
        severity=severity,
        packages=(
            AffectedPackage(
                name=package,
                installed_version="1.0-1",
                fixed_version=fixed,
                status="fixed" if fixed else "affected",
            ),
        ),
        primary_url=f"https://avd.aquasec.com/nvd/{vulnerability_id.lower()}",
    )


ZLIB = finding("CVE-2023-45853", Severity.CRITICAL, "zlib1g", None)
OPENSSL = finding("CVE-2024-0727", Severity.HIGH, "libssl3", "3.0.13-1~deb12u1")
OPENSSL_OLD = finding("CVE-2023-2650", Severity.HIGH, "openssl", "3.0.9-1")
CRYPTO = finding("CVE-2023-6237", Severity.MEDIUM, "libcrypto3", "3.1.4-r4")
BUSYBOX = finding("CVE-2023-42363", Severity.CRITICAL, "busybox", "1.36.1-r16")


def scanned(image: str, services: tuple[str, ...], *findings: Finding) -> ImageScan:
    return ImageScan(
        image=image,
        image_id="sha256:" + hashlib.sha256(image.encode()).hexdigest(),
        services=services,
        status=ScanStatus.SCANNED,
        findings=ImageFindings(
            artifact_name=image,
            schema_version=2,
            os_family="debian",
            os_name="12.5",
            trivy_version="0.76.0",
            findings=findings,
        ),
    )


def failed(image: str, services: tuple[str, ...], reason: str) -> ImageScan:
    return ImageScan(
        image=image,
        services=services,
        status=ScanStatus.FAILED,
        failure=FailureClass.TIMEOUT,
        reason=reason,
    )


def scanner() -> ScannerInfo:
    return ScannerInfo(
        trivy_path="/usr/local/bin/trivy",
        trivy_version="0.76.0",
        database=DatabaseInfo(schema_version=2, updated_at=DB_UPDATED_AT),
    )


@dataclass(frozen=True)
class SeededHistory:
    path: Path
    run_ids: list[int]

    @property
    def newest_finished(self) -> int:
        return self.run_ids[3]


def seeded_runs() -> list[RunRecord]:
    """The runs in the order they are stored; the last one is left running."""
    start = FIRST_START
    return [
        RunRecord(
            command="scan",
            started_at=start,
            finished_at=start + timedelta(minutes=2),
            status=RunStatus.COMPLETE,
            scanner=scanner(),
            images=[
                scanned(APP, ("shop/web", "shop/worker"), ZLIB, OPENSSL, OPENSSL_OLD),
                scanned(DB, ("shop/db",), OPENSSL),
            ],
        ),
        RunRecord(
            command="scan",
            started_at=start + timedelta(days=1),
            finished_at=start + timedelta(days=1, minutes=1),
            status=RunStatus.FAILED,
            error="Trivy DB unavailable",
        ),
        RunRecord(
            command="scan",
            started_at=start + timedelta(days=2),
            finished_at=start + timedelta(days=2, minutes=2),
            status=RunStatus.PARTIAL,
            scanner=scanner(),
            images=[
                scanned(APP, ("shop/web", "shop/worker"), ZLIB, OPENSSL),
                failed(DB, ("shop/db",), "trivy timed out after 300 s"),
            ],
        ),
        RunRecord(
            command="scan",
            started_at=start + timedelta(days=3),
            finished_at=start + timedelta(days=3, minutes=3),
            status=RunStatus.PARTIAL,
            scanner=scanner(),
            images=[
                scanned(APP, ("shop/web", "shop/worker"), OPENSSL),
                scanned(CACHE, ("shop/cache",), BUSYBOX, CRYPTO),
                failed(DB, ("shop/db",), HOSTILE_REASON),
            ],
        ),
        RunRecord(command="scan", started_at=start + timedelta(days=4)),
    ]


def seed_history(path: Path, records: list[RunRecord] | None = None) -> SeededHistory:
    """Write ``records`` (default: the sample runs) to a new history; the last stays running."""
    run_ids = []
    records = records if records is not None else seeded_runs()
    with HistoryStore.open(path) as store:
        for record in records[:-1]:
            run_id = store.begin_run(
                RunRecord(command=record.command, started_at=record.started_at), pid=None
            )
            for scan in record.images:
                store.save_image(run_id, scan)
            store.finish_run(
                run_id,
                record.status,
                scanner=record.scanner,
                error=record.error,
                finished_at=record.finished_at,
            )
            run_ids.append(run_id)
        # The owner is this test process, so the run stays "running" when the store reopens.
        run_ids.append(store.begin_run(records[-1], pid=os.getpid()))
    return SeededHistory(path, run_ids)
