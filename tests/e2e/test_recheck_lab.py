"""``hullcheck recheck`` on the lab: stored SBOMs against the current DB, no image analysis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import copy_cache, counting_trivy, invoke, lab_scan_arguments, report, trivy_calls
from test_scan_lab import write_compose

from hullcheck.analysis.models import Severity
from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.lab.trivydb import OsAdvisory, Vulnerability, build_trivy_db, load_advisories
from hullcheck.run import RunRecord
from hullcheck.storage import HistoryStore

KINDS = ("debian-base", "alpine-base", "node-app", "python-app")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def recheck(cache: Path, data_dir: Path, wrapper: Path) -> dict[str, object]:
    result = invoke(
        "recheck",
        "--format",
        "json",
        "--cache-dir",
        cache,
        "--db-update",
        "skip",
        "--db",
        data_dir / "history.db",
        "--trivy",
        wrapper,
    )
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    return report(result)


def findings_by_image(document: dict[str, object]) -> dict[str, set[str]]:
    return {
        image["image_id"]: {finding["id"] for finding in image["findings"]}  # type: ignore[index]
        for image in document["images"]  # type: ignore[union-attr]
    }


def packages_by_image(run: RunRecord) -> dict[str | None, set[tuple[object, ...]]]:
    """Return each image's findings as (ID, package, installed, fixed, path) rows."""
    rows: dict[str | None, set[tuple[object, ...]]] = {}
    for scan in run.images:
        assert scan.findings is not None, scan.image
        rows[scan.image_id] = {
            (finding.vulnerability_id, p.name, p.installed_version, p.fixed_version, p.path)
            for finding in scan.findings.findings
            for p in finding.packages
        }
    return rows


def test_recheck_agrees_with_full_scan(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    services = {
        kind: publish(lab, kind, f"{lab_repository}/{kind}", "1").reference for kind in KINDS
    }
    compose = write_compose(tmp_path / "parity", services)
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    wrapper, log = counting_trivy(tmp_path)
    everything = ("--severity", "CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN")

    scanned = invoke(
        "scan",
        compose,
        "--format",
        "json",
        *everything,
        *lab_scan_arguments(lab, cache, data_dir, wrapper),
    )
    assert scanned.exit_code == ExitCode.SUCCESS, scanned.stderr
    before = len(trivy_calls(log))

    rechecked = recheck(cache, data_dir, wrapper)
    calls = trivy_calls(log)[before:]

    assert calls.count("image") == 0
    # The three Debian images share one merged match, the Alpine image has its own.
    assert calls.count("sbom") == 2
    full = findings_by_image(report(scanned))
    for image in rechecked["images"]:  # type: ignore[union-attr]
        assert image["status"] == "scanned"  # type: ignore[index]
        assert image["new"] == []  # type: ignore[index]
        assert image["resolved"] == []  # type: ignore[index]
    assert {i["image_id"] for i in rechecked["images"]} == set(full)  # type: ignore[union-attr,index]

    # The recheck's stored findings, package by package, equal those of the full scan.
    with HistoryStore.open(data_dir / "history.db") as store:
        recheck_run = store.latest_run()
        assert recheck_run is not None
        assert recheck_run.run_id is not None
        scan_run = store.latest_run(before=recheck_run.run_id)
    assert scan_run is not None
    assert recheck_run.command == "recheck"
    assert scan_run.command == "scan"
    assert packages_by_image(recheck_run) == packages_by_image(scan_run)


def test_recheck_reports_new_advisory(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "debian-base", lab_repository, "1")
    compose = write_compose(tmp_path / "news", {"app": published.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    wrapper, _log = counting_trivy(tmp_path)
    scanned = invoke("scan", compose, *lab_scan_arguments(lab, cache, data_dir, wrapper))
    assert scanned.exit_code == ExitCode.SUCCESS, scanned.stderr

    advisories = load_advisories()
    advisories.add_vulnerability(
        Vulnerability(
            id="CVE-2022-37434",
            title="zlib: heap-based buffer over-read in inflate",
            description="",
            severity=Severity.CRITICAL,
        )
    )
    advisories.add_advisory(
        "debian 12", "zlib", "CVE-2022-37434", OsAdvisory(fixed_version="1:1.2.13.dfsg-2")
    )
    build_trivy_db(cache, advisories, updated_at=datetime.now(UTC) + timedelta(minutes=1))

    document = recheck(cache, data_dir, wrapper)

    [image] = document["images"]  # type: ignore[misc]
    assert image["new"] == ["CVE-2022-37434"]
    assert image["severity_counts"]["CRITICAL"] == 2


def test_recheck_without_history_fails(
    tmp_path: Path, data_dir: Path, lab_trivy_cache: Path
) -> None:
    result = invoke(
        "recheck",
        "--cache-dir",
        copy_cache(lab_trivy_cache, tmp_path / "cache"),
        "--db-update",
        "skip",
    )

    assert result.exit_code == ExitCode.USAGE
    assert "no earlier scan" in result.stderr
