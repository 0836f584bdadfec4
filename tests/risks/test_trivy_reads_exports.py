"""The bundled Trivy reads both exports and hides the findings they cover.

Trivy scans a small Debian 12 root file system with zlib1g and libc6, against the lab's
fixture vulnerability DB, which gives CVE-2023-45853 (zlib, will not fix) and
CVE-2023-4911 (glibc, fixed in 2.36-9+deb12u3).
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from risk_samples import acceptance

from hullcheck.analysis.models import Acceptance, VexJustification
from hullcheck.analysis.risks_export import export_openvex, export_trivyignore
from hullcheck.lab.trivydb import build_trivy_db
from hullcheck.scanning.trivy import locate_trivy

# Trivy applies expired_at against the real clock, so these dates follow it too.
TODAY = date.today()
ACTIVE_UNTIL = TODAY + timedelta(days=60)

DPKG_STATUS = """\
Package: zlib1g
Status: install ok installed
Priority: required
Section: libs
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Source: glibc
Version: 2.36-9
Description: GNU C Library: Shared libraries
"""


@pytest.fixture(scope="module")
def trivy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache)
    return cache


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rootfs")
    (root / "etc").mkdir()
    (root / "etc" / "debian_version").write_text("12.5\n")
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text(DPKG_STATUS)
    return root


def _scan(trivy_cache: Path, rootfs: Path, *options: str) -> set[str]:
    command = [
        str(locate_trivy(None)),
        "rootfs",
        "--skip-db-update",
        "--skip-version-check",
        "--scanners", "vuln",
        "--cache-dir", str(trivy_cache),
        "--format", "json",
        "--quiet",
        *options,
        str(rootfs),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    return {
        vulnerability["VulnerabilityID"]
        for result in report.get("Results") or []
        for vulnerability in result.get("Vulnerabilities") or []
    }


def _entries() -> list[Acceptance]:
    not_affected = acceptance(
        "CVE-2023-45853", package="pkg:deb/debian/zlib1g", expires=ACTIVE_UNTIL
    ).model_copy(update={"justification": VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH})
    return [not_affected, acceptance("CVE-2023-4911", expires=ACTIVE_UNTIL)]


def test_scan_without_exports(trivy_cache: Path, rootfs: Path) -> None:
    assert _scan(trivy_cache, rootfs) == {"CVE-2023-45853", "CVE-2023-4911"}


def test_trivyignore_hides_accepted(trivy_cache: Path, rootfs: Path, tmp_path: Path) -> None:
    ignore_file = tmp_path / ".trivyignore.yaml"
    ignore_file.write_text(export_trivyignore(_entries(), today=TODAY).text)

    assert _scan(trivy_cache, rootfs, "--ignorefile", str(ignore_file)) == set()


def test_trivyignore_expired_entry(trivy_cache: Path, rootfs: Path, tmp_path: Path) -> None:
    # Exported ten days ago while active, read by Trivy after its expired_at day.
    entry = acceptance("CVE-2023-4911", expires=TODAY - timedelta(days=1))
    ignore_file = tmp_path / ".trivyignore.yaml"
    ignore_file.write_text(export_trivyignore([entry], today=TODAY - timedelta(days=10)).text)

    assert "CVE-2023-4911" in ignore_file.read_text()
    assert _scan(trivy_cache, rootfs, "--ignorefile", str(ignore_file)) == {
        "CVE-2023-45853",
        "CVE-2023-4911",
    }


def test_openvex_hides_not_affected_only(trivy_cache: Path, rootfs: Path, tmp_path: Path) -> None:
    entries = [
        _entries()[0],
        acceptance("CVE-2023-4911", image="debian:12", expires=ACTIVE_UNTIL),
    ]
    result = export_openvex(entries, author="ops@example.org", today=TODAY)
    vex_file = tmp_path / "hullcheck.openvex.json"
    vex_file.write_text(result.text)

    assert result.skipped == ()
    # The accepted risk is an "affected" statement, which Trivy keeps reporting.
    assert _scan(trivy_cache, rootfs, "--vex", str(vex_file)) == {"CVE-2023-4911"}
