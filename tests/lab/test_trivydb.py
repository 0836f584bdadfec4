"""The generated Trivy DB against the real Trivy 0.76, plus the YAML loader's checks.

Each scan writes a fixture image's files into a directory and runs ``trivy rootfs``
offline, so no Docker daemon is needed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers_db import reported_findings, run_trivy_rootfs, write_rootfs

from hullcheck.analysis.models import Severity
from hullcheck.lab.bbolt import ReadTree, read_bbolt
from hullcheck.lab.trivydb import (
    DEFAULT_ADVISORIES_PATH,
    DEFAULT_NEXT_UPDATE_DELAY,
    AdvisoryDataError,
    AdvisorySet,
    AdvisoryStatus,
    FixtureImage,
    LanguageAdvisory,
    OsAdvisory,
    SeverityCount,
    build_trivy_db,
    load_advisories,
    write_trivy_metadata,
)

FIXTURES = load_advisories()
UPDATED_AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache, FIXTURES, updated_at=UPDATED_AT)
    return cache


def scan(cache: Path, image: FixtureImage, root: Path) -> dict[str, Any]:
    return run_trivy_rootfs(cache, write_rootfs(image, root)).report()


def severity_counts(report: dict[str, Any]) -> dict[Severity, SeverityCount]:
    """Count unique IDs per severity; an ID is fixable when every package has a fix."""
    fixes: dict[str, list[bool]] = defaultdict(list)
    severities: dict[str, Severity] = {}
    for result in report.get("Results", []):
        for vulnerability in result.get("Vulnerabilities") or []:
            vulnerability_id = vulnerability["VulnerabilityID"]
            severities[vulnerability_id] = Severity(vulnerability["Severity"])
            fixes[vulnerability_id].append(bool(vulnerability.get("FixedVersion")))
    counts: dict[Severity, SeverityCount] = {}
    for severity in set(severities.values()):
        ids = [i for i, s in severities.items() if s == severity]
        fixable = sum(all(fixes[i]) for i in ids)
        counts[severity] = SeverityCount(total=len(ids), fixable=fixable)
    return counts


def vulnerabilities_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        vulnerability["VulnerabilityID"]: vulnerability
        for result in report.get("Results", [])
        for vulnerability in result.get("Vulnerabilities") or []
    }


# The fixture file


def test_fixture_file_lists_four_images() -> None:
    assert set(FIXTURES.images) == {"debian-base", "alpine-base", "node-app", "python-app"}
    assert FIXTURES.images["node-app"].os_family == "debian"
    assert {p.name for p in FIXTURES.images["node-app"].packages} >= {"zlib1g", "lodash"}


@pytest.mark.parametrize("name", sorted(FIXTURES.images))
def test_fixture_counts_match_findings(name: str) -> None:
    image = FIXTURES.images[name]
    by_severity: dict[Severity, set[str]] = defaultdict(set)
    unfixed: set[str] = set()
    for finding in image.expected_findings:
        by_severity[finding.severity].add(finding.vulnerability_id)
        if finding.fixed_version is None:
            unfixed.add(finding.vulnerability_id)
    derived = {
        severity: SeverityCount(total=len(ids), fixable=len(ids - unfixed))
        for severity, ids in by_severity.items()
    }
    assert derived == image.expected_counts


def value_at(tree: ReadTree, *keys: str) -> bytes:
    """Return the value under the bucket path ``keys``, failing if any step is missing."""
    node: bytes | ReadTree = tree
    for key in keys:
        assert isinstance(node, dict), f"{key!r} is looked up in a value, not a bucket"
        node = node[key.encode()]
    assert isinstance(node, bytes), f"{keys} is a bucket, not a value"
    return node


def test_db_layout(cache_dir: Path) -> None:
    buckets = read_bbolt(cache_dir / "db" / "trivy.db")

    assert set(buckets) == {
        b"debian 12",
        b"alpine 3.21",
        b"npm::GitHub Security Advisory npm",
        b"pip::GitHub Security Advisory pip",
        b"vulnerability",
        b"data-source",
    }
    assert value_at(buckets, "debian 12", "zlib", "CVE-2023-45853") == b'{"Status":5}'
    assert json.loads(value_at(buckets, "debian 12", "openssl", "CVE-2024-0727")) == {
        "FixedVersion": "3.0.13-1~deb12u1",
        "Severity": 1,
    }
    lodash = value_at(buckets, "npm::GitHub Security Advisory npm", "lodash", "CVE-2021-23337")
    assert json.loads(lodash) == {
        "PatchedVersions": ["4.17.21"],
        "VulnerableVersions": ["< 4.17.21"],
    }
    entry = json.loads(value_at(buckets, "vulnerability", "CVE-2024-0727"))
    assert entry["Severity"] == "MEDIUM"
    assert entry["VendorSeverity"] == {"nvd": 2, "debian": 1}
    assert entry["CVSS"]["nvd"]["V3Score"] == 5.5
    assert entry["PublishedDate"] == "2024-01-26T09:15:07Z"
    assert json.loads(value_at(buckets, "data-source", "alpine 3.21"))["ID"] == "alpine"


def test_metadata_file(cache_dir: Path) -> None:
    metadata = json.loads((cache_dir / "db" / "metadata.json").read_text())

    assert metadata["Version"] == 2
    assert metadata["UpdatedAt"] == "2026-03-01T06:00:00Z"
    assert metadata["DownloadedAt"] == "2026-03-01T06:00:00Z"
    next_update = datetime.fromisoformat(metadata["NextUpdate"])
    assert next_update == UPDATED_AT + DEFAULT_NEXT_UPDATE_DELAY


def test_metadata_rejects_naive_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        write_trivy_metadata(
            tmp_path, updated_at=datetime(2026, 1, 1), next_update=datetime(2026, 1, 2)
        )


# Scans with the real Trivy


@pytest.mark.parametrize("name", sorted(FIXTURES.images))
def test_trivy_reports_expected_findings(cache_dir: Path, tmp_path: Path, name: str) -> None:
    image = FIXTURES.images[name]
    report = scan(cache_dir, image, tmp_path / "rootfs")

    expected = {
        (
            finding.vulnerability_id,
            finding.package,
            finding.installed_version,
            finding.severity.value,
            finding.status.label,
            finding.fixed_version or "",
        )
        for finding in image.expected_findings
    }
    assert reported_findings(report) == expected
    assert severity_counts(report) == image.expected_counts


def test_trivy_debian_details(cache_dir: Path, tmp_path: Path) -> None:
    report = scan(cache_dir, FIXTURES.images["debian-base"], tmp_path / "rootfs")
    found = vulnerabilities_by_id(report)

    assert report["Metadata"]["OS"]["Family"] == "debian"
    assert "CVE-2023-2650" not in found
    assert found["CVE-2023-45853"]["Status"] == "will_not_fix"
    assert found["CVE-2023-45853"]["Severity"] == "CRITICAL"
    assert found["CVE-2024-0727"]["Severity"] == "LOW"
    assert found["CVE-2024-0727"]["SeveritySource"] == "debian"
    assert found["CVE-2024-0727"]["DataSource"]["ID"] == "debian"
    assert found["CVE-2024-0727"]["Title"].startswith("openssl:")
    assert found["CVE-2023-4911"]["CVSS"]["nvd"]["V3Score"] == 7.8


def test_trivy_alpine_details(cache_dir: Path, tmp_path: Path) -> None:
    report = scan(cache_dir, FIXTURES.images["alpine-base"], tmp_path / "rootfs")
    found = vulnerabilities_by_id(report)

    assert report["Metadata"]["OS"]["Family"] == "alpine"
    assert found["CVE-2024-0727"]["Severity"] == "MEDIUM"
    assert found["CVE-2024-0727"]["SeveritySource"] == "nvd"
    assert found["CVE-2024-0727"]["DataSource"]["ID"] == "alpine"


def test_trivy_language_details(cache_dir: Path, tmp_path: Path) -> None:
    report = scan(cache_dir, FIXTURES.images["python-app"], tmp_path / "rootfs")
    found = vulnerabilities_by_id(report)
    types = {result["Type"] for result in report["Results"]}

    assert {"debian", "python-pkg"} <= types
    assert found["CVE-2024-6345"]["SeveritySource"] == "ghsa"
    assert found["CVE-2024-6345"]["DataSource"]["ID"] == "ghsa"


def test_trivy_rejects_version_1_metadata(cache_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_trivy_db(cache, FIXTURES, updated_at=UPDATED_AT)
    write_trivy_metadata(
        cache / "db", updated_at=UPDATED_AT, next_update=UPDATED_AT + timedelta(days=1), version=1
    )
    rootfs = write_rootfs(FIXTURES.images["debian-base"], tmp_path / "rootfs")

    run = run_trivy_rootfs(cache, rootfs)

    assert run.returncode != 0
    assert "old DB schema" in run.stderr


def test_trivy_rejects_garbage_db(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    db_path = build_trivy_db(cache, FIXTURES, updated_at=UPDATED_AT)
    db_path.write_bytes(b"\x5a" * db_path.stat().st_size)
    rootfs = write_rootfs(FIXTURES.images["debian-base"], tmp_path / "rootfs")

    run = run_trivy_rootfs(cache, rootfs)

    assert run.returncode != 0
    assert "invalid database" in run.stderr


def test_trivy_fails_on_corrupt_data_page(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    db_path = build_trivy_db(cache, FIXTURES, updated_at=UPDATED_AT)
    data = bytearray(db_path.read_bytes())
    # Valid meta pages that point at broken nodes: Trivy 0.76 (bbolt 1.5) panics.
    for pgid in range(3, len(data) // 4096):
        data[pgid * 4096 : pgid * 4096 + 16] = b"\xff" * 16
    db_path.write_bytes(bytes(data))
    rootfs = write_rootfs(FIXTURES.images["debian-base"], tmp_path / "rootfs")

    run = run_trivy_rootfs(cache, rootfs)

    assert run.returncode != 0
    assert run.stdout.strip() == ""


def test_trivy_with_thousands_of_generated_advisories(tmp_path: Path) -> None:
    advisories = load_advisories()
    unmatched_os = advisories.add_generated_advisories(
        "debian 12", ["zlib", "openssl", "curl"], 3000, OsAdvisory(fixed_version="0.1-1")
    )
    matched_os = advisories.add_generated_advisories(
        "debian 12", ["glibc"], 40, OsAdvisory(fixed_version="2.36-9+deb12u9")
    )
    unfixed_os = advisories.add_generated_advisories("debian 12", ["zlib"], 5, OsAdvisory())
    unmatched_pip = advisories.add_generated_advisories(
        "pip::GitHub Security Advisory pip",
        ["setuptools", "pillow", "django"],
        3000,
        LanguageAdvisory(vulnerable_versions=("< 1.0",), patched_versions=("1.0",)),
    )
    matched_pip = advisories.add_generated_advisories(
        "pip::GitHub Security Advisory pip",
        ["pillow"],
        25,
        LanguageAdvisory(vulnerable_versions=("< 99.0",), patched_versions=("99.0",)),
        severity=Severity.CRITICAL,
    )
    assert len(set(unmatched_os + matched_os + unfixed_os + unmatched_pip + matched_pip)) == 6070
    cache = tmp_path / "cache"
    build_trivy_db(cache, advisories, updated_at=UPDATED_AT)

    report = scan(cache, advisories.images["python-app"], tmp_path / "rootfs")
    found = vulnerabilities_by_id(report)
    base_ids = {f.vulnerability_id for f in advisories.images["python-app"].expected_findings}

    assert set(found) == base_ids | set(matched_os) | set(unfixed_os) | set(matched_pip)
    assert found[matched_os[0]]["Severity"] == "LOW"
    assert found[matched_os[3]]["Severity"] == "CRITICAL"
    assert {found[i]["Severity"] for i in matched_pip} == {"CRITICAL"}
    assert found[matched_pip[0]]["FixedVersion"] == "99.0"
    assert found[unfixed_os[0]]["Status"] == "affected"
    assert "FixedVersion" not in found[unfixed_os[0]]


# Building advisory sets in code


def test_generated_ids_continue_numbering() -> None:
    advisories = AdvisorySet()
    advisories.add_data_source("debian 12", FIXTURES.data_sources["debian 12"])
    first = advisories.add_generated_advisories("debian 12", ["a"], 2, OsAdvisory())
    second = advisories.add_generated_advisories("debian 12", ["a", "b"], 2, OsAdvisory())

    assert first == ["CVE-2099-0001", "CVE-2099-0002"]
    assert second == ["CVE-2099-0003", "CVE-2099-0004"]
    assert set(advisories.advisories["debian 12"]["b"]) == {"CVE-2099-0004"}
    advisories.validate()


def test_generated_advisories_need_data_source() -> None:
    with pytest.raises(AdvisoryDataError, match="no data source"):
        AdvisorySet().add_generated_advisories("debian 12", ["zlib"], 1, OsAdvisory())


def test_advisory_kind_must_fit_bucket() -> None:
    advisories = AdvisorySet()
    with pytest.raises(AdvisoryDataError, match="takes LanguageAdvisory"):
        advisories.add_advisory("npm::GitHub Security Advisory npm", "x", "CVE-1", OsAdvisory())
    with pytest.raises(AdvisoryDataError, match="takes OsAdvisory"):
        advisories.add_advisory("debian 12", "x", "CVE-1", LanguageAdvisory())


def test_validate_requires_vulnerability_entry() -> None:
    advisories = AdvisorySet()
    advisories.add_data_source("debian 12", FIXTURES.data_sources["debian 12"])
    advisories.add_advisory(
        "debian 12", "zlib", "CVE-2000-1", OsAdvisory(status=AdvisoryStatus.AFFECTED)
    )
    with pytest.raises(AdvisoryDataError, match="CVE-2000-1 has no vulnerability entry"):
        advisories.validate()


# Loader errors


def edited_fixtures(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_ADVISORIES_PATH.read_text()
    assert old in text, f"{old!r} is not in the fixture file"
    path = tmp_path / "advisories.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "CVE-2023-45853: {status: will_not_fix}",
            "CVE-2023-45853: {status: wont_fix}",
            r"debian 12 -> zlib -> CVE-2023-45853 -> status is 'wont_fix'",
        ),
        (
            "patched_versions: [3.0.3]",
            "patched_versions: [3.3]",
            r"braces -> CVE-2024-4068 -> patched_versions\[0\] is 3.3 \(float\)",
        ),
        (
            "CVE-2023-6237: {fixed_version: 3.1.4-r4}",
            "CVE-2099-0001: {fixed_version: 3.1.4-r4}",
            "CVE-2099-0001 has no vulnerability entry",
        ),
        (
            "    severity: CRITICAL\n",
            "    severity: SEVERE\n",
            "CVE-2023-45853 -> severity is 'SEVERE'",
        ),
        ("base: debian-base", "base: debian", "no image named 'debian'"),
        ("      HIGH: {total: 1, fixable: 1}", "      HIGH: {total: 1}", "missing fixable"),
        ("published_date:", "published:", "unknown keys published"),
    ],
)
def test_loader_names_invalid_entry(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = edited_fixtures(tmp_path, old, new)
    with pytest.raises(AdvisoryDataError, match=message) as raised:
        load_advisories(path)
    assert str(path) in str(raised.value)


def test_loader_rejects_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "advisories.yaml"
    path.write_text("images: [unclosed\n")
    with pytest.raises(AdvisoryDataError, match="not valid YAML"):
        load_advisories(path)
