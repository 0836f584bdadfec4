"""Remember that a Trivy binary and a DB passed their checks, so the next run can skip them.

``trivy --version`` and the empty rootfs scan that proves the DB opens cost two processes
per run. Their results depend only on the binary and on the DB files, so they are stored in
the cache directory with a fingerprint of those files (path, inode, size, modification
time). A run whose binary matches reuses the version; a run whose DB files match skips the
DB check. Any change to a file, or a scan that finds the DB corrupt, brings the checks back.

NOTE: the fingerprint covers the file that ``--trivy`` names. A wrapper script that runs
another Trivy hides an upgrade of that Trivy until the wrapper or the DB changes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PROBE_FILE = ".hullcheck-probe.json"
DB_FILES = ("db/trivy.db", "db/metadata.json")

Fingerprint = dict[str, list[int] | None]


def binary_fingerprint(binary: Path) -> Fingerprint | None:
    """Describe the binary the path leads to; None when it cannot be read."""
    try:
        resolved = binary.resolve()
        status = resolved.stat()
    except OSError:
        return None
    return {str(resolved): [status.st_ino, status.st_size, status.st_mtime_ns]}


def db_fingerprint(cache_dir: Path) -> Fingerprint:
    facts: Fingerprint = {}
    for name in DB_FILES:
        try:
            status = (cache_dir / name).stat()
        except OSError:
            facts[name] = None
            continue
        facts[name] = [status.st_ino, status.st_size, status.st_mtime_ns]
    return facts


def _read(cache_dir: Path) -> dict[str, Any]:
    try:
        record = json.loads((cache_dir / PROBE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def checked_version(binary: Path, cache_dir: Path) -> str | None:
    """Return the version this binary reported before, or None when it must run again."""
    return _recorded_version(_read(cache_dir), binary)


def db_checked(binary: Path, cache_dir: Path) -> bool:
    """Tell whether this binary already opened the DB files now in ``cache_dir``."""
    record = _read(cache_dir)
    return _recorded_version(record, binary) is not None and record.get("db") == db_fingerprint(
        cache_dir
    )


def _recorded_version(record: dict[str, Any], binary: Path) -> str | None:
    current = binary_fingerprint(binary)
    if current is None or record.get("binary") != current:
        return None
    version = record.get("version")
    return version if isinstance(version, str) and version else None


def record_checked(binary: Path, cache_dir: Path, version: str) -> None:
    """Record that ``binary`` reported ``version`` and opened the DB now in ``cache_dir``."""
    current = binary_fingerprint(binary)
    if current is None:
        return
    path = cache_dir / PROBE_FILE
    partial = path.with_suffix(".partial")
    record = {"binary": current, "version": version, "db": db_fingerprint(cache_dir)}
    try:
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        # Only the shortcut is lost: the next run checks again.
        logger.debug("Could not record the Trivy check in %s: %s", path, error)


def forget_checked(cache_dir: Path) -> None:
    """Make the next run check the binary and the DB again."""
    try:
        (cache_dir / PROBE_FILE).unlink(missing_ok=True)
    except OSError as error:
        logger.debug("Could not remove %s: %s", cache_dir / PROBE_FILE, error)
