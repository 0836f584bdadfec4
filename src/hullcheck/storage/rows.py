"""Conversion between the run models and rows of the history tables.

Every model field has a column (findings, packages and problems have tables of their
own), so a loaded run equals the saved one. The per-severity counts are extra columns
derived from the findings. Tuples of strings
and the vendor severity map are stored as JSON text. Times are ISO 8601 text that keeps the
UTC offset (or its absence) of the saved value.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from pydantic import BaseModel

from hullcheck.analysis.models import (
    SEVERITIES,
    Acceptance,
    AffectedPackage,
    EpssScore,
    Finding,
    ImageFindings,
    KevEntry,
    Severity,
)
from hullcheck.deployment.models import ServiceUpdate
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)

_COUNT_COLUMNS = {severity: severity.value.lower() for severity in SEVERITIES}


def encode_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@overload
def decode_time(value: str) -> datetime: ...
@overload
def decode_time(value: None) -> None: ...
@overload
def decode_time(value: str | None) -> datetime | None: ...
def decode_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def scanner_columns(scanner: ScannerInfo | None) -> dict[str, Any]:
    """Return the ``runs`` columns of a scanner, all NULL when it is None."""
    database = scanner.database if scanner is not None else None
    return {
        "trivy_path": scanner.trivy_path if scanner is not None else None,
        "trivy_version": scanner.trivy_version if scanner is not None else None,
        "db_schema_version": database.schema_version if database is not None else None,
        "db_updated_at": encode_time(database.updated_at) if database is not None else None,
        "db_next_update": encode_time(database.next_update) if database is not None else None,
        "db_downloaded_at": (encode_time(database.downloaded_at) if database is not None else None),
    }


def decode_scanner(row: sqlite3.Row) -> ScannerInfo | None:
    if row["trivy_path"] is None:
        return None
    database = None
    if row["db_schema_version"] is not None:
        database = DatabaseInfo(
            schema_version=row["db_schema_version"],
            updated_at=decode_time(row["db_updated_at"]),
            next_update=decode_time(row["db_next_update"]),
            downloaded_at=decode_time(row["db_downloaded_at"]),
        )
    return ScannerInfo(
        trivy_path=row["trivy_path"],
        trivy_version=row["trivy_version"],
        database=database,
    )


def insert_image(
    connection: sqlite3.Connection, run_id: int, position: int, scan: ImageScan
) -> None:
    """Insert one image scan with its findings and their packages."""
    columns: dict[str, Any] = {
        "run_id": run_id,
        "position": position,
        "image": scan.image,
        "image_id": scan.image_id,
        "repo_digests": json.dumps(list(scan.repo_digests)),
        "services": json.dumps(list(scan.services)),
        "status": scan.status.value,
        "failure": scan.failure.value if scan.failure is not None else None,
        "reason": scan.reason,
        "duration_seconds": scan.duration_seconds,
    }
    columns.update(_report_columns(scan.findings))
    names = ", ".join(columns)
    placeholders = ", ".join(f":{name}" for name in columns)
    cursor = connection.execute(
        f"INSERT INTO run_images ({names}) VALUES ({placeholders})", columns
    )
    run_image_id = cursor.lastrowid
    if scan.findings is None:
        return
    _insert_findings(connection, run_image_id, scan.findings.findings)


def _report_columns(report: ImageFindings | None) -> dict[str, Any]:
    if report is None:
        return {}
    columns: dict[str, Any] = {
        "artifact_name": report.artifact_name,
        "report_schema_version": report.schema_version,
        "os_family": report.os_family,
        "os_name": report.os_name,
        "os_eosl": int(report.os_eosl),
        "analysed": int(report.analysed),
        "trivy_version": report.trivy_version,
        "report_image_id": report.image_id,
        "report_repo_digests": json.dumps(list(report.repo_digests)),
    }
    counts = report.counts()
    fixable = report.counts(fixable_only=True)
    for severity, column in _COUNT_COLUMNS.items():
        columns[column] = counts.get(severity)
        columns[f"fixable_{column}"] = fixable.get(severity)
    return columns


def _insert_findings(
    connection: sqlite3.Connection, run_image_id: int | None, findings: Sequence[Finding]
) -> None:
    """Insert findings and their packages with two statements, not one per finding.

    The finding IDs are chosen here, above the largest in use, so the packages can point
    at them. The caller's write transaction keeps those IDs free until the commit.
    """
    if not findings:
        return
    first_id = int(
        connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM findings").fetchone()[0]
    )
    connection.executemany(
        "INSERT INTO findings (id, run_image_id, position, vulnerability_id, severity, title,"
        " severity_source, vendor_severity, primary_url, kev, epss, accepted, priority)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                first_id + position,
                run_image_id,
                position,
                finding.vulnerability_id,
                finding.severity.value,
                finding.title,
                finding.severity_source,
                json.dumps(finding.vendor_severity),
                finding.primary_url,
                _model_json(finding.kev),
                _model_json(finding.epss),
                _model_json(finding.accepted),
                finding.priority,
            )
            for position, finding in enumerate(findings)
        ],
    )
    connection.executemany(
        "INSERT INTO finding_packages (finding_id, position, name, installed_version,"
        " fixed_version, status, target, package_class, package_type, path)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                first_id + position,
                package_position,
                package.name,
                package.installed_version,
                package.fixed_version,
                package.status,
                package.target,
                package.package_class,
                package.package_type,
                package.path,
            )
            for position, finding in enumerate(findings)
            for package_position, package in enumerate(finding.packages)
        ],
    )


def load_images(
    connection: sqlite3.Connection, run_id: int, *, run_image_id: int | None = None
) -> list[ImageScan]:
    """Load the image scans of one run in the order they were saved, or just one of them."""
    if run_image_id is None:
        image_rows = connection.execute(
            "SELECT * FROM run_images WHERE run_id = ? ORDER BY position", (run_id,)
        ).fetchall()
    else:
        image_rows = connection.execute(
            "SELECT * FROM run_images WHERE run_id = ? AND id = ?", (run_id, run_image_id)
        ).fetchall()
    findings_by_image = _load_findings(connection, run_id, run_image_id=run_image_id)
    scans = []
    for row in image_rows:
        report = None
        if row["artifact_name"] is not None:
            report = ImageFindings(
                artifact_name=row["artifact_name"],
                schema_version=row["report_schema_version"],
                os_family=row["os_family"],
                os_name=row["os_name"],
                os_eosl=bool(row["os_eosl"]),
                analysed=bool(row["analysed"]),
                trivy_version=row["trivy_version"],
                image_id=row["report_image_id"],
                repo_digests=tuple(json.loads(row["report_repo_digests"])),
                findings=tuple(findings_by_image.get(row["id"], ())),
            )
        scans.append(
            ImageScan(
                image=row["image"],
                image_id=row["image_id"],
                repo_digests=tuple(json.loads(row["repo_digests"])),
                services=tuple(json.loads(row["services"])),
                status=ScanStatus(row["status"]),
                failure=FailureClass(row["failure"]) if row["failure"] is not None else None,
                reason=row["reason"],
                findings=report,
                duration_seconds=row["duration_seconds"],
            )
        )
    return scans


def _load_findings(
    connection: sqlite3.Connection, run_id: int, *, run_image_id: int | None = None
) -> dict[int, list[Finding]]:
    # Two queries load the whole run, instead of one per finding, because a run can have
    # thousands of findings.
    packages_by_finding: dict[int, list[AffectedPackage]] = {}
    package_rows = connection.execute(
        "SELECT p.* FROM finding_packages AS p"
        " JOIN findings AS f ON f.id = p.finding_id"
        " JOIN run_images AS i ON i.id = f.run_image_id"
        " WHERE i.run_id = ? AND (? IS NULL OR i.id = ?) ORDER BY p.finding_id, p.position",
        (run_id, run_image_id, run_image_id),
    )
    for row in package_rows:
        packages_by_finding.setdefault(row["finding_id"], []).append(
            AffectedPackage(
                name=row["name"],
                installed_version=row["installed_version"],
                fixed_version=row["fixed_version"],
                status=row["status"],
                target=row["target"],
                package_class=row["package_class"],
                package_type=row["package_type"],
                path=row["path"],
            )
        )
    findings_by_image: dict[int, list[Finding]] = {}
    finding_rows = connection.execute(
        "SELECT f.* FROM findings AS f JOIN run_images AS i ON i.id = f.run_image_id"
        " WHERE i.run_id = ? AND (? IS NULL OR i.id = ?) ORDER BY f.run_image_id, f.position",
        (run_id, run_image_id, run_image_id),
    )
    for row in finding_rows:
        findings_by_image.setdefault(row["run_image_id"], []).append(
            Finding(
                vulnerability_id=row["vulnerability_id"],
                severity=Severity(row["severity"]),
                packages=tuple(packages_by_finding.get(row["id"], ())),
                title=row["title"],
                severity_source=row["severity_source"],
                vendor_severity=json.loads(row["vendor_severity"]),
                primary_url=row["primary_url"],
                kev=KevEntry.model_validate_json(row["kev"]) if row["kev"] else None,
                epss=EpssScore.model_validate_json(row["epss"]) if row["epss"] else None,
                accepted=Acceptance.model_validate_json(row["accepted"])
                if row["accepted"]
                else None,
                priority=row["priority"],
            )
        )
    return findings_by_image


def _model_json(model: BaseModel | None) -> str | None:
    return model.model_dump_json() if model is not None else None


def insert_problems(
    connection: sqlite3.Connection,
    run_id: int,
    first_position: int,
    problems: list[DiscoveryProblem],
) -> None:
    connection.executemany(
        "INSERT INTO run_problems (run_id, position, kind, message, file, service, variable,"
        " blocks_deploy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                first_position + offset,
                problem.kind.value,
                problem.message,
                str(problem.file) if problem.file is not None else None,
                problem.service,
                problem.variable,
                int(problem.blocks_deploy),
            )
            for offset, problem in enumerate(problems)
        ],
    )


def load_problems(connection: sqlite3.Connection, run_id: int) -> list[DiscoveryProblem]:
    rows = connection.execute(
        "SELECT * FROM run_problems WHERE run_id = ? ORDER BY position", (run_id,)
    )
    return [
        DiscoveryProblem(
            kind=ProblemKind(row["kind"]),
            message=row["message"],
            file=Path(row["file"]) if row["file"] is not None else None,
            service=row["service"],
            variable=row["variable"],
            blocks_deploy=bool(row["blocks_deploy"]),
        )
        for row in rows
    ]


def insert_updates(
    connection: sqlite3.Connection, run_id: int, first_position: int, updates: list[ServiceUpdate]
) -> None:
    connection.executemany(
        "INSERT INTO run_updates (run_id, position, project, service, action, document)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                first_position + offset,
                update.project,
                update.service,
                update.action.value,
                update.model_dump_json(),
            )
            for offset, update in enumerate(updates)
        ],
    )


def load_updates(connection: sqlite3.Connection, run_id: int) -> list[ServiceUpdate]:
    rows = connection.execute(
        "SELECT document FROM run_updates WHERE run_id = ? ORDER BY position", (run_id,)
    )
    return [ServiceUpdate.model_validate_json(row["document"]) for row in rows]
