"""Trivy process failures become failed scans with a class, never empty results.

The failing scanners here are small shell scripts standing in for a broken Trivy, because
a real Trivy cannot be made to hit a registry rate limit or a Go panic on demand. The
successful paths are tested against the real Trivy in the lab tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullcheck.scanning.binary import check_version_allowed
from hullcheck.scanning.models import FailureClass, ScannerError
from hullcheck.scanning.trivy import (
    DbUpdate,
    ImageScanError,
    TrivyOptions,
    TrivyScanner,
    classify_failure,
    last_error_line,
    read_db_metadata,
)

RATE_LIMITED = (
    "FATAL Fatal error init error: DB error: failed to download vulnerability DB: "
    "GET https://ghcr.io/v2/aquasecurity/trivy-db/manifests/2: TOOMANYREQUESTS: "
    "retry-after: 35µs, allowed: 44000/minute"
)
CACHE_LOCKED = (
    "FATAL Fatal error run error: image scan error: scan error: unable to initialize a scan "
    "service: unable to initialize cache: unable to initialize fs cache: cache may be in use "
    "by another process: timeout"
)
TIMED_OUT = "WARN Increase --timeout value\nFATAL analyze error: timeout: context deadline exceeded"
CORRUPT_WARNING = "WARN [vulndb] Trivy DB may be corrupted and will be re-downloaded."
PANIC = "panic: runtime error: invalid memory address or nil pointer dereference\ngoroutine 1 [running]:"
# Shaped like what Trivy 0.76 prints for an SBOM match on a trivy.db cut short (last stack lines abridged).
SIGBUS = (
    "unexpected fault address 0x7f3a2c0a9000\n"
    "fatal error: fault\n"
    "[signal SIGBUS: bus error code=0x2 addr=0x7f3a2c0a9000 pc=0x4b8c1e]\n"
    "\n"
    "goroutine 1 gp=0xc000002380 m=0 mp=0x9a7c6e0 [running]:\n"
    "runtime.throw({0x6c2f1a5?, 0x0?})\n"
    "\t/opt/hostedtoolcache/go/1.27.2/x64/src/runtime/panic.go:1101 +0x48\n"
    "created by net/http.(*Transport).dialConnFor in goroutine 7\n"
    "\t/opt/hostedtoolcache/go/1.27.2/x64/src/net/http/transport.go:2124 +0x1e05\n"
)

EMPTY_REPORT = json.dumps(
    {"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image"}
)


def write_stub(
    directory: Path, *, scan_stderr: str, scan_exit: int, report: str | None = None
) -> Path:
    """Write a stand-in trivy that passes the version and DB checks and fails image scans."""
    (directory / "scan-stderr.txt").write_text(scan_stderr + "\n")
    report_line = ""
    if report is not None:
        (directory / "report.json").write_text(report)
        report_line = f'cp "{directory / "report.json"}" "$output"'
    script = directory / "trivy"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo \'{"Version":"0.76.0"}\'; exit 0; fi\n'
        'if [ "$1" = "rootfs" ]; then echo \'{}\'; exit 0; fi\n'
        'output=""\n'
        'while [ "$#" -gt 0 ]; do\n'
        '    if [ "$1" = "--output" ]; then output="$2"; fi\n'
        "    shift\n"
        "done\n"
        f"{report_line}\n"
        f'cat "{directory / "scan-stderr.txt"}" >&2\n'
        f"exit {scan_exit}\n"
    )
    script.chmod(0o755)
    return script


def offline_cache(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    (cache / "db").mkdir(parents=True)
    (cache / "db" / "metadata.json").write_text(
        json.dumps(
            {
                "Version": 2,
                "UpdatedAt": "2026-11-30T00:00:00Z",
                "NextUpdate": "2026-12-01T00:00:00Z",
            }
        )
    )
    return cache


def scanner_for(tmp_path: Path, stub: Path) -> TrivyScanner:
    options = TrivyOptions(
        cache_dir=offline_cache(tmp_path), binary=str(stub), db_update=DbUpdate.SKIP
    )
    scanner = TrivyScanner(options)
    scanner.prepare()
    return scanner


@pytest.mark.parametrize(
    ("log_text", "expected"),
    [
        (RATE_LIMITED, FailureClass.DB_UNAVAILABLE),
        (CACHE_LOCKED, FailureClass.CACHE_LOCKED),
        (TIMED_OUT, FailureClass.TIMEOUT),
        (CORRUPT_WARNING, FailureClass.DB_CORRUPT),
        (PANIC, FailureClass.SCANNER_CRASHED),
        (SIGBUS, FailureClass.DB_CORRUPT),
        ("something nobody has seen before", FailureClass.SCANNER_CRASHED),
    ],
)
def test_classify_failure_messages(log_text: str, expected: FailureClass) -> None:
    assert classify_failure(log_text) is expected


def test_go_fault_named_not_stack_line() -> None:
    line = last_error_line(SIGBUS)
    assert line.startswith("fatal error: fault")
    assert "[signal SIGBUS: bus error" in line
    assert "transport.go" not in line


@pytest.mark.parametrize(
    ("log_text", "exit_code", "expected"),
    [
        (RATE_LIMITED, 1, FailureClass.DB_UNAVAILABLE),
        (TIMED_OUT, 1, FailureClass.TIMEOUT),
        (PANIC, 2, FailureClass.SCANNER_CRASHED),
    ],
)
def test_failed_scan_raises_with_class(
    tmp_path: Path, log_text: str, exit_code: int, expected: FailureClass
) -> None:
    stub = write_stub(tmp_path, scan_stderr=log_text, scan_exit=exit_code)
    scanner = scanner_for(tmp_path, stub)

    with pytest.raises(ImageScanError) as raised:
        scanner.scan_image("example/app:1")

    assert raised.value.failure is expected
    assert expected.value in str(raised.value)


def test_corrupt_warning_rejects_empty_result(tmp_path: Path) -> None:
    stub = write_stub(tmp_path, scan_stderr=CORRUPT_WARNING, scan_exit=0, report=EMPTY_REPORT)
    scanner = scanner_for(tmp_path, stub)

    with pytest.raises(ImageScanError) as raised:
        scanner.scan_image("example/app:1")

    assert raised.value.failure is FailureClass.DB_CORRUPT


def test_cache_lock_retried_then_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hullcheck.scanning.trivy.time.sleep", lambda seconds: None)
    stub = write_stub(tmp_path, scan_stderr=CACHE_LOCKED, scan_exit=1)
    scanner = scanner_for(tmp_path, stub)

    with pytest.raises(ImageScanError) as raised:
        scanner.scan_image("example/app:1")

    assert raised.value.failure is FailureClass.CACHE_LOCKED


def test_missing_db_fails_prepare(tmp_path: Path) -> None:
    stub = write_stub(tmp_path, scan_stderr="", scan_exit=0)
    options = TrivyOptions(
        cache_dir=tmp_path / "empty-cache", binary=str(stub), db_update=DbUpdate.SKIP
    )

    with pytest.raises(ScannerError) as raised:
        TrivyScanner(options).prepare()

    assert "no Trivy vulnerability DB" in raised.value.message


def test_missing_binary_names_path(tmp_path: Path) -> None:
    options = TrivyOptions(cache_dir=tmp_path, binary=str(tmp_path / "nowhere" / "trivy"))

    with pytest.raises(ScannerError) as raised:
        TrivyScanner(options).prepare()

    assert str(tmp_path / "nowhere" / "trivy") in raised.value.message


@pytest.mark.parametrize("version", ["0.69.4", "0.69.5", "0.69.6", "v0.69.5"])
def test_compromised_versions_rejected(version: str) -> None:
    with pytest.raises(ScannerError) as raised:
        check_version_allowed(version)

    assert "GHSA-69fq-xp46-6x23" in raised.value.message


@pytest.mark.parametrize("version", ["0.69.3", "0.69.7", "0.76.0"])
def test_other_versions_allowed(version: str) -> None:
    check_version_allowed(version)


def test_db_metadata_dates_read(tmp_path: Path) -> None:
    cache = offline_cache(tmp_path)

    info = read_db_metadata(cache)

    assert info is not None
    assert info.schema_version == 2
    assert info.updated_at is not None
    assert info.updated_at.isoformat() == "2026-11-30T00:00:00+00:00"
