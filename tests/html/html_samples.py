"""Runs for the HTML report tests, built in code with the facts each test needs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.deployment.models import FindingDelta, Policy, ServiceUpdate, UpdateAction
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)
from hullcheck.storage import RunSummary

STARTED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>'


class Kev(BaseModel):
    cve_id: str
    known_ransomware: bool = False


class Epss(BaseModel):
    cve_id: str
    probability: float
    percentile: float


class Accepted(BaseModel):
    vulnerability_id: str
    reason: str
    expires: date


class RatedFinding(Finding):
    """A Finding with risk fields shaped like the enrichment's, read by the report with getattr.

    The fields are declared here, so the tests run whether or not Finding declares them.
    """

    kev: Any = None
    epss: Any = None
    priority: Any = None
    accepted: Any = None


def package(name: str, fixed: str | None = None, status: str | None = None) -> AffectedPackage:
    return AffectedPackage(name=name, installed_version="1.0-1", fixed_version=fixed, status=status)


def app_scan() -> ImageScan:
    findings = (
        RatedFinding(
            vulnerability_id="CVE-2023-45853",
            severity=Severity.CRITICAL,
            packages=(package("zlib1g", status="will_not_fix"),),
            primary_url="https://avd.aquasec.com/nvd/cve-2023-45853",
            accepted=Accepted(
                vulnerability_id="CVE-2023-45853",
                reason="no zip files are written",
                expires=date(2026, 6, 1),
            ),
        ),
        RatedFinding(
            vulnerability_id="CVE-2024-3094",
            severity=Severity.CRITICAL,
            packages=(package("xz-utils", fixed="5.6.1+really5.4.5-1", status="fixed"),),
            primary_url="javascript:alert(1)",
            kev=Kev(cve_id="CVE-2024-3094"),
            epss=Epss(cve_id="CVE-2024-3094", probability=0.8712, percentile=0.99),
            priority=1,
        ),
        RatedFinding(
            vulnerability_id="CVE-2024-0727",
            severity=Severity.HIGH,
            packages=(
                package("libssl3", fixed="3.0.13-1~deb12u1", status="fixed"),
                package("openssl", fixed="3.0.13-1~deb12u1", status="fixed"),
            ),
        ),
        RatedFinding(
            vulnerability_id="CVE-2023-6237",
            severity=Severity.MEDIUM,
            packages=(package("libcrypto3", fixed="3.1.4-r4"),),
        ),
    )
    return ImageScan(
        image="127.0.0.1:5000/shop/app:1",
        image_id="sha256:" + "a" * 64,
        services=("shop/web",),
        status=ScanStatus.SCANNED,
        findings=ImageFindings(
            artifact_name="127.0.0.1:5000/shop/app:1",
            schema_version=2,
            trivy_version="0.76.0",
            findings=findings,
        ),
    )


def failed_scan(reason: str = f"timeout: {HOSTILE}") -> ImageScan:
    return ImageScan(
        image="docker.io/library/postgres:16-alpine",
        services=("shop/db",),
        status=ScanStatus.FAILED,
        failure=FailureClass.TIMEOUT,
        reason=reason,
    )


def report_run(run_id: int = 7) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        command="scan",
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=3),
        status=RunStatus.PARTIAL,
        scanner=ScannerInfo(
            trivy_path="/usr/local/bin/trivy",
            trivy_version="0.76.0",
            database=DatabaseInfo(schema_version=2, updated_at=STARTED - timedelta(days=2)),
        ),
        images=[app_scan(), failed_scan()],
    )


def update_run() -> RunRecord:
    run = report_run(8)
    run.command = "update"
    run.updates = [
        ServiceUpdate(
            project="shop",
            service="web",
            image="127.0.0.1:5000/shop/app:1",
            action=UpdateAction.UPDATED,
            reason="digest moved; no new CRITICAL",
            policy=Policy.STRICT,
            delta=FindingDelta(
                fixed=["CVE-2023-2650", "CVE-2024-0727"], new=["CVE-2024-3094"], open=["CVE-1"]
            ),
        ),
        ServiceUpdate(
            project="shop",
            service="db",
            image="docker.io/library/postgres:16-alpine",
            action=UpdateAction.HELD,
            reason=f"new CRITICAL {HOSTILE}",
            policy=Policy.STRICT,
            escalations=["known exploited"],
        ),
    ]
    return run


def summary(
    run_id: int, critical: int, high: int, *, scanned: int = 2, failed: int = 0
) -> RunSummary:
    return RunSummary(
        run_id=run_id,
        command="scan",
        started_at=STARTED - timedelta(days=10 - run_id),
        status=_status(scanned, failed),
        images_total=scanned + failed,
        images_scanned=scanned,
        images_failed=failed,
        critical=critical,
        high=high,
    )


def _status(scanned: int, failed: int) -> RunStatus:
    if scanned == 0:
        return RunStatus.FAILED
    return RunStatus.PARTIAL if failed else RunStatus.COMPLETE
