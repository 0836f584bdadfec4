"""``hullcheck scan`` with a missing, crashing, hanging or DB-less Trivy: no image looks clean.

Each run scans three images. When Trivy fails for one image, the other two are still
scanned. When it cannot run at all, the run is stored as failed with every image in it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from faults_lab import (
    REAL_TRIVY,
    copy_cache,
    history_runs,
    image_entry,
    invoke,
    json_document,
    scan_arguments,
    stand_in_trivy,
    stored_run,
    write_compose,
)

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.scanning.models import FailureClass, ScanStatus

PANIC = "panic: runtime error: invalid memory address or nil pointer dereference"


def three_images(lab: Lab, repository: str, directory: Path) -> Path:
    """Publish images for services ``first``, ``second`` and ``third`` and write their stack."""
    services = {
        "first": publish(lab, "alpine-base", f"{repository}/first", "1").reference,
        "second": publish(lab, "debian-base", f"{repository}/second", "1").reference,
        "third": publish(lab, "alpine-base", f"{repository}/third", "1", revision="3").reference,
    }
    return write_compose(directory, services)


def assert_all_stored(history: Path, status: str) -> None:
    [run] = history_runs(history)
    assert run["status"] == status
    assert run["images_total"] == 3
    stored = stored_run(history, run["run_id"])
    assert len(stored.images) == 3


def test_missing_trivy_fails_run(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    history = tmp_path / "history.db"
    missing = tmp_path / "nonexistent" / "trivy"

    result = invoke(
        "scan",
        compose,
        "--format",
        "json",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history, missing),
    )

    assert result.exit_code == ExitCode.SCAN_FAILED
    assert f"Trivy binary not found: {missing}" in result.stderr
    assert "set --trivy (or HULLCHECK_TRIVY)" in result.stderr
    document = json_document(result)
    assert document["run"]["status"] == "failed"
    assert document["totals"]["scanned"] == 0
    for image in document["images"]:
        assert image["status"] == ScanStatus.FAILED.value
        assert image["failure"] == FailureClass.SCANNER_MISSING.value
        assert image["severity_counts"] is None
    assert_all_stored(history, "failed")


def test_crashing_trivy_fails_one_image(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    stub = stand_in_trivy(tmp_path, failing="/second:", action=f'echo "{PANIC}" >&2; exit 2')
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--format",
        "json",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history, stub),
    )

    assert result.exit_code == ExitCode.SCAN_FAILED, result.stderr
    document = json_document(result)
    second = image_entry(document, "second")
    assert second["failure"] == FailureClass.SCANNER_CRASHED.value
    assert PANIC in second["reason"]
    assert second["severity_counts"] is None
    assert image_entry(document, "first")["status"] == ScanStatus.SCANNED.value
    assert image_entry(document, "third")["status"] == ScanStatus.SCANNED.value
    assert_all_stored(history, "partial")


def test_hanging_trivy_times_out(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    stub = stand_in_trivy(tmp_path, failing="/second:", action="exec sleep 60")
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--format",
        "json",
        "--scan-timeout",
        "1",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history, stub),
    )

    assert result.exit_code == ExitCode.SCAN_FAILED, result.stderr
    document = json_document(result)
    second = image_entry(document, "second")
    assert second["failure"] == FailureClass.TIMEOUT.value
    assert "did not finish" in second["reason"]
    assert "--scan-timeout" in second["reason"]
    assert second["severity_counts"] is None
    assert image_entry(document, "first")["status"] == ScanStatus.SCANNED.value
    assert image_entry(document, "third")["status"] == ScanStatus.SCANNED.value
    assert_all_stored(history, "partial")


def test_corrupt_db_fails_run(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    (cache / "db" / "trivy.db").write_bytes(b"not a bbolt file " * 4096)
    history = tmp_path / "history.db"

    result = invoke("scan", compose, "--format", "json", *scan_arguments(lab, cache, history))

    assert result.exit_code == ExitCode.SCAN_FAILED
    assert f"vulnerability DB {cache / 'db' / 'trivy.db'}" in result.stderr
    assert "invalid database" in result.stderr
    assert f"delete {cache / 'db'}" in result.stderr
    assert "--db-update auto" in result.stderr
    document = json_document(result)
    assert document["run"]["status"] == "failed"
    for image in document["images"]:
        assert image["failure"] == FailureClass.DB_CORRUPT.value
        assert image["severity_counts"] is None
    assert_all_stored(history, "failed")


def test_stale_db_date_and_age_shown(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    updated = (datetime.now(UTC) - timedelta(days=200, hours=1)).replace(microsecond=0)
    metadata_path = cache / "db" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["UpdatedAt"] = updated.isoformat().replace("+00:00", "Z")
    metadata["NextUpdate"] = (updated + timedelta(hours=6)).isoformat().replace("+00:00", "Z")
    metadata_path.write_text(json.dumps(metadata))
    history = tmp_path / "history.db"

    as_json = invoke("scan", compose, "--format", "json", *scan_arguments(lab, cache, history))
    as_table = invoke("scan", compose, *scan_arguments(lab, cache, history))

    assert as_json.exit_code == ExitCode.SUCCESS, as_json.stderr
    scanner = json_document(as_json)["scanner"]
    assert datetime.fromisoformat(scanner["db_updated_at"]) == updated
    assert scanner["db_age_days"] == 200
    assert as_table.exit_code == ExitCode.SUCCESS, as_table.stderr
    assert f"vulnerability DB updated {updated:%Y-%m-%d %H:%M} UTC" in as_table.stdout
    assert "200 days old" in as_table.stdout


def test_hung_db_download_uses_cached_db(
    lab: Lab,
    lab_trivy_cache: Path,
    lab_repository: str,
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hullcheck.scanning.trivy.DB_DOWNLOAD_TIMEOUT_SECONDS", 1.0)
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    # The download hangs as on a network that drops packets; every other call runs the
    # real Trivy offline.
    stub = tmp_path / "trivy"
    stub.write_text(
        "#!/bin/sh\n"
        'for argument in "$@"; do\n'
        '    if [ "$argument" = "--download-db-only" ]; then exec sleep 60; fi\n'
        "done\n"
        'case "$1" in image|rootfs|sbom) set -- "$@" --offline-scan ;; esac\n'
        f'exec "{REAL_TRIVY}" "$@"\n'
    )
    stub.chmod(0o755)
    history = tmp_path / "history.db"
    arguments = scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history, stub)
    arguments[arguments.index("skip")] = "auto"

    result = invoke("scan", compose, "--format", "json", *arguments)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert "Trivy DB download failed" in result.stderr
    assert "did not finish the DB download" in result.stderr
    document = json_document(result)
    assert document["totals"]["scanned"] == 3
    assert document["scanner"]["db_updated_at"] is not None
    assert_all_stored(history, "complete")


def test_failed_run_history_has_no_counts(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = three_images(lab, lab_repository, tmp_path / "stack")
    history = tmp_path / "history.db"
    missing = tmp_path / "nonexistent" / "trivy"
    invoke(
        "scan",
        compose,
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history, missing),
    )

    [run] = history_runs(history)

    assert run["images_scanned"] == 0
    assert run["critical"] is None
    assert run["high"] is None
