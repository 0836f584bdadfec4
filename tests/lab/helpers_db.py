"""Write a fixture image's files into a directory and scan it with the real Trivy."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hullcheck.lab.trivydb import FixtureImage, FixturePackage

TRIVY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "trivy"
DEFAULT_MAINTAINER = "Debian QA Group <packages@qa.debian.org>"


def write_rootfs(image: FixtureImage, root: Path) -> Path:
    """Write the files from which Trivy detects the image's OS and packages; return ``root``."""
    if image.os_family == "debian":
        _write(root / "etc/debian_version", f"{image.os_version}\n")
        _write(root / "etc/os-release", _os_release(image, "Debian GNU/Linux"))
        _write(root / "var/lib/dpkg/status", _dpkg_status(image.packages))
    elif image.os_family == "alpine":
        _write(root / "etc/alpine-release", f"{image.os_version}\n")
        _write(root / "etc/os-release", _os_release(image, "Alpine Linux"))
        _write(root / "lib/apk/db/installed", _apk_installed(image.packages))
    else:
        raise ValueError(f"OS family {image.os_family!r} is not supported; use debian or alpine")

    for package in image.packages:
        if package.manager == "npm":
            directory = _inside(root, image.node_modules, "node_modules") / package.name
            manifest = {"name": package.name, "version": package.version, "license": "MIT"}
            _write(directory / "package.json", json.dumps(manifest, indent=2) + "\n")
        elif package.manager == "pip":
            site_packages = _inside(root, image.site_packages, "site_packages")
            dist_info = site_packages / f"{package.name}-{package.version}.dist-info"
            _write(
                dist_info / "METADATA",
                f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {package.version}\n",
            )
    return root


def _inside(root: Path, directory: str | None, field: str) -> Path:
    if directory is None:
        raise ValueError(f"the image has language packages but no {field} directory")
    return root / directory.lstrip("/")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _os_release(image: FixtureImage, pretty_name: str) -> str:
    major = image.os_version.split(".")[0]
    lines = [
        f'PRETTY_NAME="{pretty_name} {image.os_version}"',
        f"ID={image.os_family}",
        f'VERSION_ID="{major if image.os_family == "debian" else image.os_version}"',
    ]
    if image.os_codename:
        lines.append(f"VERSION_CODENAME={image.os_codename}")
    return "\n".join(lines) + "\n"


def _dpkg_status(packages: tuple[FixturePackage, ...]) -> str:
    stanzas = []
    for package in packages:
        if package.manager != "dpkg":
            continue
        lines = [
            f"Package: {package.name}",
            "Status: install ok installed",
            f"Maintainer: {package.maintainer or DEFAULT_MAINTAINER}",
            "Architecture: amd64",
        ]
        if package.source:
            lines.append(f"Source: {package.source}")
        lines += [f"Version: {package.version}", f"Description: {package.name} for the lab"]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)


def _apk_installed(packages: tuple[FixturePackage, ...]) -> str:
    stanzas = []
    for package in packages:
        if package.manager != "apk":
            continue
        lines = [
            f"P:{package.name}",
            f"V:{package.version}",
            "A:x86_64",
            "L:Apache-2.0",
            f"o:{package.source or package.name}",
        ]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas) + "\n"


@dataclass(frozen=True)
class TrivyRun:
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> dict[str, Any]:
        assert self.returncode == 0, f"Trivy failed ({self.returncode}):\n{self.stderr}"
        report: dict[str, Any] = json.loads(self.stdout)
        return report


def run_trivy_rootfs(cache_dir: Path, rootfs: Path) -> TrivyRun:
    """Scan ``rootfs`` offline with the DB in ``cache_dir``."""
    completed = subprocess.run(
        [
            str(TRIVY),
            "rootfs",
            "--skip-db-update",
            "--skip-version-check",
            "--scanners",
            "vuln",
            "--cache-dir",
            str(cache_dir),
            "--cache-backend",
            "memory",
            "--format",
            "json",
            "--quiet",
            str(rootfs),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return TrivyRun(completed.returncode, completed.stdout, completed.stderr)


def reported_findings(report: dict[str, Any]) -> set[tuple[str, str, str, str, str, str]]:
    """Return (ID, package, installed, severity, status, fixed version) for every finding."""
    findings = set()
    for result in report.get("Results", []):
        for vulnerability in result.get("Vulnerabilities") or []:
            findings.add(
                (
                    vulnerability["VulnerabilityID"],
                    vulnerability["PkgName"],
                    vulnerability["InstalledVersion"],
                    vulnerability["Severity"],
                    vulnerability.get("Status", ""),
                    vulnerability.get("FixedVersion", ""),
                )
            )
    return findings
