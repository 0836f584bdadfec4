"""Parse output of the real bundled Trivy, which needs no vulnerability DB for these scans.

``trivy rootfs --scanners secret`` still detects the OS, so it shows the layout that
Trivy 0.76 writes for a clean OS and for a tree with nothing to analyse.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hullcheck.analysis.trivy_json import load_trivy_report
from hullcheck.scanning.binary import PINNED_TRIVY_VERSION, locate_trivy


def scan_rootfs(root: Path, tmp_path: Path) -> Path:
    """Run Trivy offline on ``root`` and return its JSON report."""
    output = tmp_path / "report.json"
    command = [
        str(locate_trivy()),
        "rootfs",
        "--scanners",
        "secret",
        "--skip-version-check",
        "--offline-scan",
        "--quiet",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--format",
        "json",
        "--output",
        str(output),
        str(root),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    return output


def test_real_trivy_empty_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()

    findings = load_trivy_report(scan_rootfs(root, tmp_path))

    assert findings.trivy_version == PINNED_TRIVY_VERSION
    assert findings.analysed is False
    assert findings.findings == ()


def test_real_trivy_clean_alpine(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "alpine-release").write_text("3.21.2\n", encoding="utf-8")

    findings = load_trivy_report(scan_rootfs(root, tmp_path))

    assert findings.trivy_version == PINNED_TRIVY_VERSION
    assert findings.analysed is True
    assert findings.os_family == "alpine"
    assert findings.os_name == "3.21.2"
    assert findings.counts().CRITICAL == 0
