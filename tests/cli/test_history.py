"""``hullcheck history`` run in-process through Typer's CliRunner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.cli import history, main
from hullcheck.exitcodes import ExitCode
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    DatabaseInfo,
    FailureClass,
    ImageScan,
    ScannerInfo,
    ScanStatus,
)
from hullcheck.storage import HistoryStore

# Wide enough that neither the table nor error lines wrap.
_ENV = {"COLUMNS": "400", "NO_COLOR": "1"}


@pytest.fixture
def app() -> typer.Typer:
    # A fresh app with the real root options, so registering twice never duplicates commands.
    application = typer.Typer(no_args_is_help=True, add_completion=False)
    application.callback()(main._root)
    history.register(application)
    return application


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def _invoke(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=_ENV)


def _scanned_image() -> ImageScan:
    finding = Finding(
        vulnerability_id="CVE-2024-0727",
        severity=Severity.HIGH,
        packages=(
            AffectedPackage(name="openssl", installed_version="3.0.11", fixed_version="3.0.13"),
        ),
    )
    critical = Finding(
        vulnerability_id="CVE-2023-45853",
        severity=Severity.CRITICAL,
        packages=(AffectedPackage(name="zlib1g", status="will_not_fix"),),
    )
    report = ImageFindings(
        artifact_name="example/app:1", schema_version=2, findings=(finding, critical)
    )
    return ImageScan(image="example/app:1", status=ScanStatus.SCANNED, findings=report)


def _record_runs(path: Path | None = None) -> tuple[int, int]:
    """Store a complete run and then a partial one, and return their ids."""
    scanner = ScannerInfo(
        trivy_path="/usr/bin/trivy",
        trivy_version="0.76.0",
        database=DatabaseInfo(schema_version=2, updated_at=datetime(2026, 3, 1, 6, 0, tzinfo=UTC)),
    )
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with HistoryStore.open(path) as store:
        first = store.begin_run(RunRecord(command="scan", started_at=started), pid=os.getpid())
        store.save_image(first, _scanned_image())
        store.finish_run(
            first,
            RunStatus.COMPLETE,
            scanner=scanner,
            finished_at=datetime(2026, 3, 1, 9, 1, 5, tzinfo=UTC),
        )
        second = store.begin_run(
            RunRecord(command="scan --all [prod]", started_at=started), pid=os.getpid()
        )
        store.save_image(second, _scanned_image())
        store.save_image(
            second,
            ImageScan(
                image="db:16",
                status=ScanStatus.FAILED,
                failure=FailureClass.TIMEOUT,
                reason="timed out",
            ),
        )
        store.finish_run(second, RunStatus.PARTIAL, scanner=scanner, error="1 image failed")
    return first, second


def test_table_lists_runs(app: typer.Typer, data_dir: Path) -> None:
    first, second = _record_runs()

    result = _invoke(app, "history")

    assert result.exit_code == ExitCode.SUCCESS, result.output
    lines = result.stdout.splitlines()
    second_row = next(line for line in lines if re.match(rf"│ +{second} │", line))
    first_row = next(line for line in lines if re.match(rf"│ +{first} │", line))
    assert lines.index(second_row) < lines.index(first_row)
    assert "scan --all [prod]" in second_row
    assert "partial" in second_row
    assert "1 scanned, 1 failed" in second_row
    assert "1 (1 fixable)" in second_row
    assert "0.76.0" in second_row
    assert "complete" in first_row
    assert "1m 05s" in first_row
    assert str(data_dir / "history.db") in result.stdout
    assert result.stderr == ""


def test_json_lists_runs(app: typer.Typer, data_dir: Path) -> None:
    first, second = _record_runs()

    result = _invoke(app, "history", "--format", "json")

    assert result.exit_code == ExitCode.SUCCESS, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == history.HISTORY_SCHEMA_VERSION
    assert document["database"] == str(data_dir / "history.db")
    assert [run["run_id"] for run in document["runs"]] == [second, first]
    newest = document["runs"][0]
    assert newest["status"] == "partial"
    assert newest["command"] == "scan --all [prod]"
    assert newest["images_total"] == 2
    assert newest["images_failed"] == 1
    assert newest["critical"] == 1
    assert newest["high"] == 1
    assert newest["fixable_high"] == 1
    assert newest["fixable_critical"] == 0
    assert newest["trivy_version"] == "0.76.0"
    assert newest["db_updated_at"] == "2026-03-01T06:00:00Z"
    assert newest["error"] == "1 image failed"


def test_limit_keeps_newest(app: typer.Typer, data_dir: Path) -> None:
    _, second = _record_runs()

    result = _invoke(app, "history", "--limit", "1", "--format", "json")

    assert result.exit_code == ExitCode.SUCCESS, result.output
    assert [run["run_id"] for run in json.loads(result.stdout)["runs"]] == [second]


def test_limit_zero_is_usage_error(app: typer.Typer, data_dir: Path) -> None:
    result = _invoke(app, "history", "--limit", "0")

    assert result.exit_code == ExitCode.USAGE


def test_db_option_reads_that_file(app: typer.Typer, tmp_path: Path, data_dir: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "runs.db"
    _, second = _record_runs(elsewhere)

    result = _invoke(app, "history", "--db", str(elsewhere), "--format", "json")

    assert result.exit_code == ExitCode.SUCCESS, result.output
    assert json.loads(result.stdout)["runs"][0]["run_id"] == second
    assert not data_dir.exists()


def test_no_history_creates_nothing(app: typer.Typer, data_dir: Path) -> None:
    table = _invoke(app, "history")
    as_json = _invoke(app, "history", "--format", "json")

    assert table.exit_code == ExitCode.SUCCESS, table.output
    assert table.stdout == ""
    assert "No runs recorded" in table.stderr
    assert as_json.exit_code == ExitCode.SUCCESS, as_json.output
    assert json.loads(as_json.stdout)["runs"] == []
    assert not data_dir.exists()


def test_missing_db_option_fails(app: typer.Typer, tmp_path: Path, data_dir: Path) -> None:
    missing = tmp_path / "typo.db"

    result = _invoke(app, "history", "--db", str(missing))

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert f"error: The history database {missing} was not found" in result.stderr
    assert "hint:" in result.stderr
    assert not missing.exists()


def test_corrupt_db_fails_with_hint(app: typer.Typer, tmp_path: Path, data_dir: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_text("not a database at all\n" * 100)

    result = _invoke(app, "history", "--db", str(corrupt))

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert str(corrupt) in error_lines[0]
    assert "hint: move" in result.stderr
    assert "Traceback" not in result.stderr
    assert corrupt.read_text() == "not a database at all\n" * 100


def test_crashed_run_listed_interrupted(app: typer.Typer, data_dir: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with HistoryStore.open() as store:
        run_id = store.begin_run(
            RunRecord(command="scan", started_at=datetime.now(UTC)), pid=child.pid
        )

    result = _invoke(app, "history", "--format", "json")

    assert result.exit_code == ExitCode.SUCCESS, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["run_id"] == run_id
    assert run["status"] == "interrupted"
    assert "interrupted" in result.stderr


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (59, "59s"),
        (65, "1m 05s"),
        (3 * 3600 + 120, "3h 02m"),
        (2 * 86400 + 3600, "2d 01h"),
    ],
)
def test_duration_format(seconds: int, expected: str) -> None:
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    finished = started + timedelta(seconds=seconds)

    assert history._format_duration(started, finished) == expected


def test_duration_unknown_cases() -> None:
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    assert history._format_duration(started, None) == "-"
    assert history._format_duration(started, datetime(2026, 3, 1, 10, 0)) == "?"
