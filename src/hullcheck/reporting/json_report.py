"""The machine-readable report: one JSON object with ``schema_version`` first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from hullcheck.analysis.models import SEVERITIES, AffectedPackage, Finding, Severity, SeverityCounts
from hullcheck.reporting.filters import DEFAULT_SEVERITIES
from hullcheck.reporting.view import ImageRow, ReportView, build_view
from hullcheck.run import REPORT_SCHEMA_VERSION, RunRecord
from hullcheck.scanning.models import ScanStatus

JsonObject = dict[str, object]


def render_json(
    run: RunRecord,
    *,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed: bool = False,
) -> str:
    """Render ``run`` as indented JSON text ending in a newline.

    ``severity_counts`` and ``fixable_counts`` cover every severity and are null for an
    image whose scan failed. ``findings`` lists only the ``severities`` asked for.
    """
    view = build_view(run, severities=severities, hide_unfixed_findings=hide_unfixed)
    return json.dumps(report_object(view), indent=2, ensure_ascii=False) + "\n"


def report_object(view: ReportView) -> JsonObject:
    run = view.run
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "run": {
            "id": run.run_id,
            "command": run.command,
            "started_at": _time(run.started_at),
            "finished_at": _time(run.finished_at),
            "status": run.status.value,
            "error": run.error,
            "feeds": run.feeds,
        },
        "scanner": {
            "trivy_version": view.scanner.trivy_version,
            "db_updated_at": _time(view.scanner.db_updated_at),
            "db_age_days": view.scanner.db_age_days,
        },
        "filters": {
            "severities": [severity.value for severity in view.severities],
            "hide_unfixed": view.hidden_unfixed,
        },
        "images": [_image(row) for row in view.rows],
        "problems": [problem.model_dump(mode="json") for problem in view.problems],
        "totals": {
            "images": len(view.rows),
            "scanned": view.count(ScanStatus.SCANNED),
            "nothing_analysed": view.count(ScanStatus.NOTHING_ANALYSED),
            "failed": view.count(ScanStatus.FAILED),
            "severity_counts": _counts(view.totals),
            "fixable_counts": _counts(view.fixable_totals),
        },
    }


def _image(row: ImageRow) -> JsonObject:
    scan = row.scan
    findings = scan.findings
    os_object: JsonObject | None = None
    if findings is not None and (findings.os_family or findings.os_name):
        os_object = {
            "family": findings.os_family,
            "name": findings.os_name,
            "eosl": findings.os_eosl,
        }
    return {
        "image": scan.image,
        "image_id": scan.image_id,
        "repo_digests": list(scan.repo_digests),
        "services": list(scan.services),
        "status": scan.status.value,
        "failure": scan.failure.value if scan.failure else None,
        "source": scan.source.value,
        "reason": scan.reason,
        "status_text": row.status_text,
        "trivy_version": findings.trivy_version if findings else None,
        "os": os_object,
        "notes": list(row.notes),
        "severity_counts": _counts(row.counts) if row.counts is not None else None,
        "fixable_counts": _counts(row.fixable_counts) if row.fixable_counts is not None else None,
        "findings": [_finding(finding) for finding in row.listed],
    }


def _finding(finding: Finding) -> JsonObject:
    return {
        "id": finding.vulnerability_id,
        "severity": finding.severity.value,
        "fixable": finding.fixable,
        "title": finding.title,
        "severity_source": finding.severity_source,
        "vendor_severity": dict(sorted(finding.vendor_severity.items())),
        "primary_url": finding.primary_url,
        "kev": finding.kev is not None,
        "kev_ransomware": finding.kev.known_ransomware if finding.kev is not None else None,
        "epss": finding.epss.probability if finding.epss is not None else None,
        "epss_percentile": finding.epss.percentile if finding.epss is not None else None,
        "accepted": finding.accepted is not None,
        "accepted_reason": finding.accepted.reason if finding.accepted is not None else None,
        "accepted_until": finding.accepted.expires.isoformat()
        if finding.accepted is not None
        else None,
        "priority": finding.priority,
        "packages": [_package(package) for package in finding.packages],
    }


def _package(package: AffectedPackage) -> JsonObject:
    return {
        "name": package.name,
        "installed_version": package.installed_version,
        "fixed_version": package.fixed_version,
        "status": package.status,
        "fixable": package.fixable,
        "target": package.target,
        "class": package.package_class,
        "type": package.package_type,
        "path": package.path,
    }


def _counts(counts: SeverityCounts) -> dict[str, int]:
    return {severity.value: counts.get(severity) for severity in SEVERITIES}


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
