"""A Trivy DB given as a local path: installed into the cache, nothing downloaded."""

from __future__ import annotations

import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import counting_trivy, invoke, report, trivy_calls

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.lab.trivydb import build_trivy_db


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def scan_with_source(
    lab: Lab, compose: Path, cache: Path, data_dir: Path, source: Path, trivy: Path
) -> object:
    return invoke(
        "scan",
        compose,
        "--format",
        "json",
        "--docker-host",
        lab.docker_host,
        "--cache-dir",
        cache,
        "--db-update",
        "auto",
        "--db-repository",
        source,
        "--db",
        data_dir / "history.db",
        "--trivy",
        trivy,
    )


@pytest.mark.parametrize("packed", [False, True], ids=["directory", "archive"])
def test_local_db_installed_offline(
    lab: Lab, lab_repository: str, tmp_path: Path, data_dir: Path, packed: bool
) -> None:
    published = publish(lab, "alpine-base", lab_repository, "1")
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  db:\n    image: {published.reference}\n")
    updated = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    build_trivy_db(
        tmp_path / "offline", updated_at=updated, next_update=updated + timedelta(days=1)
    )
    source = tmp_path / "offline" / "db"
    if packed:
        archive = tmp_path / "db.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for name in ("trivy.db", "metadata.json"):
                tar.add(source / name, arcname=name)
        source = archive
    wrapper, log = counting_trivy(tmp_path)

    result = scan_with_source(lab, compose, tmp_path / "cache", data_dir, source, wrapper)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert (tmp_path / "cache" / "db" / "trivy.db").exists()
    # One "image" call: the scan. A DB download would be a second (trivy image --download-db-only).
    assert trivy_calls(log).count("image") == 1
    document = report(result)
    assert document["scanner"]["db_updated_at"].startswith("2026-12-01T06:00")
    assert document["images"][0]["severity_counts"]["MEDIUM"] == 2


def test_missing_local_db_named(lab: Lab, tmp_path: Path, data_dir: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  db:\n    image: example/db:1\n")
    wrapper, _log = counting_trivy(tmp_path)

    result = scan_with_source(
        lab, compose, tmp_path / "cache", data_dir, tmp_path / "nowhere.tar.gz", wrapper
    )

    assert result.exit_code == ExitCode.SCAN_FAILED
    assert str(tmp_path / "nowhere.tar.gz") in result.stdout + result.stderr
