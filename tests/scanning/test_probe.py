"""The Trivy version and DB checks run once per binary and DB, not once per run.

Real Trivy on the fixture DB, behind a wrapper that logs each call's subcommand, so the
tests count processes as a user's ``ps`` would.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from hullcheck.scanning import probe
from hullcheck.scanning.models import ScannerError
from hullcheck.scanning.trivy import DbUpdate, TrivyOptions, TrivyScanner

REAL_TRIVY = Path(sys.executable).parent / "trivy"


def counting_trivy(directory: Path, log: Path) -> Path:
    wrapper = directory / "trivy"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{REAL_TRIVY}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def cache(lab_trivy_cache: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(lab_trivy_cache, tmp_path / "cache"))


def prepare(wrapper: Path, cache: Path) -> str:
    options = TrivyOptions(binary=str(wrapper), cache_dir=cache, db_update=DbUpdate.SKIP)
    return TrivyScanner(options).prepare().trivy_version


def test_second_run_skips_both_checks(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = counting_trivy(tmp_path, log)

    assert prepare(wrapper, cache) == "0.76.0"
    assert calls(log) == ["--version", "rootfs"]
    assert prepare(wrapper, cache) == "0.76.0"
    assert calls(log) == ["--version", "rootfs"]


def test_changed_db_is_checked_again_without_the_version(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = counting_trivy(tmp_path, log)
    prepare(wrapper, cache)

    metadata = cache / "db" / "metadata.json"
    metadata.write_text(metadata.read_text())  # a new DB: same content, new mtime
    prepare(wrapper, cache)
    assert calls(log) == ["--version", "rootfs", "rootfs"]


def test_replaced_binary_is_asked_for_its_version_again(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = counting_trivy(tmp_path, log)
    prepare(wrapper, cache)

    wrapper.write_text(wrapper.read_text() + "# upgraded\n")
    prepare(wrapper, cache)
    assert calls(log) == ["--version", "rootfs", "--version", "rootfs"]


def test_corrupt_db_fails_after_good_run(cache: Path, tmp_path: Path) -> None:
    wrapper = counting_trivy(tmp_path, tmp_path / "calls.log")
    prepare(wrapper, cache)

    database = cache / "db" / "trivy.db"
    database.write_bytes(b"not a bolt database" * 100)
    with pytest.raises(ScannerError, match="cannot use the vulnerability DB"):
        prepare(wrapper, cache)


def test_forgetting_brings_both_checks_back(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = counting_trivy(tmp_path, log)
    prepare(wrapper, cache)

    probe.forget_checked(cache)
    prepare(wrapper, cache)
    assert calls(log) == ["--version", "rootfs", "--version", "rootfs"]


def test_unreadable_record_only_costs_the_shortcut(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = counting_trivy(tmp_path, log)
    (cache / probe.PROBE_FILE).write_text("{not json")

    assert prepare(wrapper, cache) == "0.76.0"
    assert calls(log) == ["--version", "rootfs"]


def test_db_mtime_changes_fingerprint(cache: Path) -> None:
    before = probe.db_fingerprint(cache)
    database = cache / "db" / "trivy.db"
    stat = database.stat()
    os.utime(database, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert probe.db_fingerprint(cache) != before
