"""Sample runs with every kind of image result, for the history store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)
from hullcheck.storage import HistoryStore

BERLIN_SUMMER = timezone(timedelta(hours=2))


def scanned_debian_image() -> ImageScan:
    """A Debian 12 image with one unfixed CRITICAL and one fixable HIGH in two packages."""
    zlib = Finding(
        vulnerability_id="CVE-2023-45853",
        severity=Severity.CRITICAL,
        packages=(
            AffectedPackage(
                name="zlib1g",
                installed_version="1:1.2.13.dfsg-1",
                status="will_not_fix",
                target="example/app:1 (debian 12.5)",
                package_class="os-pkgs",
                package_type="debian",
            ),
        ),
        title="zlib: integer overflow in zipOpenNewFileInZip4_6",
        severity_source="nvd",
        vendor_severity={"nvd": 4, "debian": 1},
        primary_url="https://avd.aquasec.com/nvd/cve-2023-45853",
    )
    openssl = Finding(
        vulnerability_id="CVE-2024-0727",
        severity=Severity.HIGH,
        packages=(
            AffectedPackage(
                name="libssl3",
                installed_version="3.0.11-1~deb12u2",
                fixed_version="3.0.13-1~deb12u1",
                status="fixed",
                target="example/app:1 (debian 12.5)",
                package_class="os-pkgs",
                package_type="debian",
            ),
            AffectedPackage(
                name="openssl",
                installed_version="3.0.11-1~deb12u2",
                fixed_version="3.0.13-1~deb12u1",
                status="fixed",
                target="example/app:1 (debian 12.5)",
                package_class="os-pkgs",
                package_type="debian",
                path=None,
            ),
        ),
        severity_source="debian",
        vendor_severity={"debian": 3},
    )
    report = ImageFindings(
        artifact_name="example/app:1",
        schema_version=2,
        os_family="debian",
        os_name="12.5",
        trivy_version="0.76.0",
        image_id="sha256:" + "a" * 64,
        repo_digests=("127.0.0.1:5000/example/app@sha256:" + "b" * 64,),
        findings=(zlib, openssl),
    )
    return ImageScan(
        image="127.0.0.1:5000/example/app:1",
        image_id="sha256:" + "a" * 64,
        repo_digests=("127.0.0.1:5000/example/app@sha256:" + "b" * 64,),
        services=("shop/web", "shop/worker"),
        status=ScanStatus.SCANNED,
        findings=report,
        duration_seconds=0.125,
    )


def failed_image() -> ImageScan:
    return ImageScan(
        image="docker.io/library/postgres:16-alpine",
        image_id="sha256:" + "c" * 64,
        services=("shop/db",),
        status=ScanStatus.FAILED,
        failure=FailureClass.TIMEOUT,
        reason="trivy timed out after 300 s",
        duration_seconds=300.0,
    )


def nothing_analysed_image() -> ImageScan:
    report = ImageFindings(
        artifact_name="scratch-tool:latest",
        schema_version=2,
        os_family=None,
        analysed=False,
        trivy_version="0.76.0",
    )
    return ImageScan(
        image="scratch-tool:latest",
        status=ScanStatus.NOTHING_ANALYSED,
        reason="OS not detected and no packages found",
        findings=report,
    )


def discovery_problems() -> list[DiscoveryProblem]:
    return [
        DiscoveryProblem(
            kind=ProblemKind.MISSING_VARIABLE,
            message="SECRET_KEY is unset: secret key required",
            file=Path("/srv/shop/compose.yaml"),
            service="server",
            variable="SECRET_KEY",
        ),
        DiscoveryProblem(
            kind=ProblemKind.ENGINE_UNAVAILABLE,
            message="Docker engine not reachable",
            blocks_deploy=False,
        ),
    ]


def scanner_info() -> ScannerInfo:
    return ScannerInfo(
        trivy_path="/usr/local/bin/trivy",
        trivy_version="0.76.0",
        database=DatabaseInfo(
            schema_version=2,
            updated_at=datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
            next_update=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
            downloaded_at=datetime(2026, 3, 1, 7, 30, 15, 123456, tzinfo=UTC),
        ),
    )


def finished_run() -> RunRecord:
    """A partial run as it should read back after begin, saves and finish."""
    return RunRecord(
        command="scan --all",
        started_at=datetime(2026, 3, 1, 9, 0, 0, 1, tzinfo=BERLIN_SUMMER),
        finished_at=datetime(2026, 3, 1, 9, 5, 30, tzinfo=BERLIN_SUMMER),
        status=RunStatus.PARTIAL,
        error="1 image failed to scan",
        scanner=scanner_info(),
        images=[scanned_debian_image(), failed_image(), nothing_analysed_image()],
        problems=discovery_problems(),
    )


def save_step_by_step(store: HistoryStore, record: RunRecord, *, pid: int | None) -> int:
    """Save ``record`` the way a scan does: begin, one image at a time, problems, finish."""
    run_id = store.begin_run(
        RunRecord(command=record.command, started_at=record.started_at), pid=pid
    )
    for scan in record.images:
        store.save_image(run_id, scan)
    store.save_problems(run_id, record.problems)
    store.finish_run(
        run_id,
        record.status,
        scanner=record.scanner,
        error=record.error,
        finished_at=record.finished_at,
    )
    return run_id
