"""``hullcheck report RUN_ID``: a stored run rendered as HTML, JSON or Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from html_samples import report_run
from html_tree import parse_html
from typer.testing import CliRunner, Result

from hullcheck.cli import main, report
from hullcheck.exitcodes import ExitCode
from hullcheck.run import RunRecord
from hullcheck.storage import HistoryStore

_ENV = {"COLUMNS": "400", "NO_COLOR": "1"}


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer(no_args_is_help=True, add_completion=False)
    application.callback()(main._root)
    report.register(application)
    return application


def store_runs(path: Path, runs: list[RunRecord]) -> list[int]:
    ids = []
    with HistoryStore.open(path) as store:
        for run in runs:
            run_id = store.begin_run(
                RunRecord(command=run.command, started_at=run.started_at, images=run.images)
            )
            store.finish_run(run_id, run.status, scanner=run.scanner, finished_at=run.finished_at)
            ids.append(run_id)
    return ids


def invoke(app: typer.Typer, *arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments), env=_ENV)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store_runs(path, [report_run(), report_run(), report_run()])
    return path


def test_html_to_file(app: typer.Typer, database: Path, tmp_path: Path) -> None:
    output = tmp_path / "run-2.html"

    result = invoke(app, "report", "2", "--db", str(database), "--output", str(output))

    assert result.exit_code == 0, result.output
    document = parse_html(output.read_text(encoding="utf-8"))
    assert document.find("title").text() == "hullcheck report: scan run 2"
    assert document.find("div", id="total-critical").text() == "2"
    labels = [text.text() for text in document.find("svg", id="trend-chart").find_all("text")]
    # The trend reaches back from run 2, never forward to run 3.
    assert [label for label in labels if label.startswith("#")] == ["#1", "#2"]


def test_json_to_stdout(app: typer.Typer, database: Path) -> None:
    result = invoke(app, "report", "3", "--format", "json", "--db", str(database))

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["run"]["id"] == 3
    assert document["totals"]["failed"] == 1
    assert document["images"][1]["severity_counts"] is None


def test_markdown_to_stdout(app: typer.Typer, database: Path) -> None:
    result = invoke(app, "report", "1", "--format", "markdown", "--db", str(database))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# hullcheck report")
    assert "`scan` run 1" in result.stdout


def test_missing_run(app: typer.Typer, database: Path) -> None:
    result = invoke(app, "report", "99", "--db", str(database))

    assert result.exit_code == ExitCode.USAGE
    assert f"Run 99 was not found in {database}" in result.stderr


def test_missing_database(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"

    result = invoke(app, "report", "1", "--db", str(missing))

    assert result.exit_code == ExitCode.USAGE
    assert f"The history database {missing} was not found" in result.stderr
    assert not missing.exists()
