"""A fixed run for the renderer tests: parsed Trivy JSON, fixed times and ids.

Golden files live in ``tests/reporting/golden/``. After an intended change to a report,
regenerate them with::

    HULLCHECK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/reporting

and review the diff before committing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hullcheck.analysis.models import ImageFindings
from hullcheck.analysis.trivy_json import parse_trivy_report
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("HULLCHECK_UPDATE_GOLDEN") == "1"

APP_IMAGE_ID = "sha256:" + "1" * 64
CACHE_IMAGE_ID = "sha256:" + "2" * 64


def assert_matches_golden(name: str, actual: str) -> None:
    """Compare ``actual`` with the golden file ``name``, or rewrite it in update mode."""
    path = GOLDEN_DIR / name
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(
            f"golden file {path} is missing: run with HULLCHECK_UPDATE_GOLDEN=1 to create it"
        )
    assert actual == path.read_text(encoding="utf-8")


def vulnerability(
    vulnerability_id: str, package: str, severity: str, **fields: Any
) -> dict[str, Any]:
    return {"VulnerabilityID": vulnerability_id, "PkgName": package, "Severity": severity, **fields}


def app_findings() -> ImageFindings:
    """A Debian 12 image with every Trivy status and a language package."""
    os_vulnerabilities = [
        vulnerability("CVE-2000-0005", "a", "HIGH", InstalledVersion="1", Status="will_not_fix"),
        vulnerability(
            "CVE-2000-0006", "b", "CRITICAL", InstalledVersion="1", Status="fix_deferred"
        ),
        vulnerability("CVE-2000-0007", "c", "HIGH", InstalledVersion="1", Status="end_of_life"),
        vulnerability("CVE-2000-0008", "d", "HIGH", InstalledVersion="1", Status="affected"),
        vulnerability(
            "CVE-2000-0009",
            "e",
            "CRITICAL",
            InstalledVersion="1",
            FixedVersion="2",
            Status="fixed",
            Title="e: overflow in a | b parser",
            PrimaryURL="https://avd.aquasec.com/nvd/cve-2000-0009",
        ),
        vulnerability("CVE-2000-0010", "f", "HIGH", InstalledVersion="1", FixedVersion="2"),
        vulnerability(
            "CVE-2000-0011", "g", "HIGH", InstalledVersion="1", Status="some_future_status"
        ),
        vulnerability(
            "CVE-2000-0002",
            "bash",
            "LOW",
            InstalledVersion="5.2.15-2",
            Status="affected",
            SeveritySource="debian",
            VendorSeverity={"nvd": 3, "debian": 1},
        ),
    ]
    ruby_vulnerabilities = [
        vulnerability(
            "CVE-2020-8165",
            "activesupport",
            "HIGH",
            InstalledVersion="6.0.2.1",
            FixedVersion="6.0.3.1, 5.2.4.3",
            Status="fixed",
            SeveritySource="ghsa",
            VendorSeverity={"ghsa": 3, "nvd": 4},
            Title="rubygem-activesupport: unmarshalling of user_provided objects",
        )
    ]
    document = {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.76.0"},
        "ArtifactName": "ghcr.io/example/app:1.4",
        "ArtifactType": "container_image",
        "Metadata": {
            "OS": {"Family": "debian", "Name": "12.8"},
            "ImageID": APP_IMAGE_ID,
            "RepoDigests": ["ghcr.io/example/app@sha256:" + "a" * 64],
        },
        "Results": [
            {
                "Target": "ghcr.io/example/app:1.4 (debian 12.8)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": os_vulnerabilities,
            },
            {
                "Target": "Ruby",
                "Class": "lang-pkgs",
                "Type": "gemspec",
                "Vulnerabilities": ruby_vulnerabilities,
            },
        ],
    }
    return parse_trivy_report(document, source="app.json")


def cache_findings() -> ImageFindings:
    """An Alpine image past its end of life, with no Critical or High finding."""
    document = {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.76.0"},
        "ArtifactName": "docker.io/library/redis:7.2-alpine3.19",
        "Metadata": {
            "OS": {"Family": "alpine", "Name": "3.19.1", "EOSL": True},
            "ImageID": CACHE_IMAGE_ID,
        },
        "Results": [
            {
                "Target": "docker.io/library/redis:7.2-alpine3.19 (alpine 3.19.1)",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": [
                    vulnerability(
                        "CVE-2023-6237",
                        "libcrypto3",
                        "MEDIUM",
                        InstalledVersion="3.1.4-r3",
                        FixedVersion="3.1.4-r4",
                    )
                ],
            }
        ],
    }
    return parse_trivy_report(document, source="cache.json")


def empty_findings() -> ImageFindings:
    document = {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.76.0"},
        "ArtifactName": "ghcr.io/example/static:2",
        "Metadata": {"OS": {"Family": "none", "Name": ""}},
    }
    return parse_trivy_report(document, source="static.json")


def make_run() -> RunRecord:
    """A partial run: two scanned images, one failed, one with nothing analysed."""
    app = app_findings()
    cache = cache_findings()
    return RunRecord(
        run_id=7,
        command="scan",
        started_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        finished_at=datetime(2026, 12, 1, 10, 5, tzinfo=UTC),
        status=RunStatus.PARTIAL,
        scanner=ScannerInfo(
            trivy_path="/opt/hullcheck/.venv/bin/trivy",
            trivy_version="0.76.0",
            database=DatabaseInfo(
                schema_version=2, updated_at=datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
            ),
        ),
        images=[
            ImageScan(
                image="ghcr.io/example/app:1.4",
                image_id=APP_IMAGE_ID,
                repo_digests=app.repo_digests,
                services=("home/app", "home/worker"),
                status=ScanStatus.SCANNED,
                findings=app,
                duration_seconds=1.5,
            ),
            ImageScan(
                image="docker.io/library/redis:7.2-alpine3.19",
                image_id=CACHE_IMAGE_ID,
                services=("home/cache",),
                status=ScanStatus.SCANNED,
                findings=cache,
            ),
            ImageScan(
                image="ghcr.io/example/homeassistant:2026.11",
                image_id="sha256:" + "3" * 64,
                services=("home/hass",),
                status=ScanStatus.FAILED,
                failure=FailureClass.TIMEOUT,
                reason="timeout: analyze error: timeout: context deadline exceeded",
            ),
            ImageScan(
                image="ghcr.io/example/static:2",
                services=("home/static",),
                status=ScanStatus.NOTHING_ANALYSED,
                reason="nothing analysed: Trivy detected no OS and no packages",
                findings=empty_findings(),
            ),
        ],
        problems=[
            DiscoveryProblem(
                kind=ProblemKind.MISSING_VARIABLE,
                message="SECRET_KEY is not set: secret key required",
                file=Path("/srv/home/compose.yaml"),
                service="app",
                variable="SECRET_KEY",
            )
        ],
    )
