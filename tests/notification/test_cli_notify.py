"""``hullcheck notify`` run in-process through Typer's CliRunner against local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from notification_lab import Reply, WebhookServer, closed_port
from notification_runs import mixed_update_run
from typer.testing import CliRunner, Result

from hullcheck.cli import main, notify
from hullcheck.exitcodes import ExitCode
from hullcheck.storage import HistoryStore

_ENV = {"COLUMNS": "400", "NO_COLOR": "1"}


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer(no_args_is_help=True, add_completion=False)
    application.callback()(main._root)
    notify.register(application)
    return application


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the config and data directories at the test, and clear notification variables."""
    config_home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "data"))
    for name in ("HULLCHECK_NOTIFY_URLS", "HULLCHECK_CONFIG", "HULLCHECK_HISTORY_DB"):
        monkeypatch.delenv(name, raising=False)
    return config_home


@pytest.fixture
def receiver() -> Iterator[WebhookServer]:
    server = WebhookServer(default=Reply(200)).start()
    try:
        yield server
    finally:
        server.stop()


def _invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**_ENV, **(env or {})})


def test_test_message_sent(app: typer.Typer, receiver: WebhookServer) -> None:
    url = f"json://127.0.0.1:{receiver.port}/hook"

    result = _invoke(app, "notify", "--test", "--url", url)

    assert result.exit_code == 0, result.output
    assert f"sent    {url} (1 message)" in result.stdout
    assert receiver.requests[0].json()["title"] == "hullcheck test notification"


def test_failed_target_exits_2(app: typer.Typer, receiver: WebhookServer) -> None:
    good = f"json://127.0.0.1:{receiver.port}/hook"
    bad = f"json://127.0.0.1:{closed_port()}/hooks/s3cretT0ken"

    result = _invoke(app, "notify", "--test", "--url", good, "--url", bad)

    assert result.exit_code == ExitCode.USAGE
    assert f"sent    {good}" in result.stdout
    redacted = bad.replace("s3cretT0ken", "***")
    assert f"failed  {redacted}: " in result.stdout
    assert "s3cretT0ken" not in result.output
    assert "1 of 2 notification targets failed" in result.stderr


def test_urls_from_environment(app: typer.Typer, receiver: WebhookServer) -> None:
    first = f"json://127.0.0.1:{receiver.port}/one"
    second = f"form://127.0.0.1:{receiver.port}/two"

    result = _invoke(app, "notify", "--test", env={"HULLCHECK_NOTIFY_URLS": f"{first}, {second}"})

    assert result.exit_code == 0, result.output
    assert sorted(request.path for request in receiver.requests) == ["/one", "/two"]


def test_urls_from_config_file(
    app: typer.Typer, receiver: WebhookServer, isolated_config: Path
) -> None:
    directory = isolated_config / "hullcheck"
    directory.mkdir(parents=True)
    config = directory / "config.toml"
    config.write_text(f'notify_urls = ["json://127.0.0.1:{receiver.port}/from-file"]\n')
    config.chmod(0o600)

    result = _invoke(app, "notify", "--test")

    assert result.exit_code == 0, result.output
    assert [request.path for request in receiver.requests] == ["/from-file"]


def test_no_target_is_usage_error(app: typer.Typer) -> None:
    result = _invoke(app, "notify", "--test")

    assert result.exit_code == ExitCode.USAGE
    assert "no notification target is configured" in result.stderr


def test_needs_test_or_run(app: typer.Typer) -> None:
    neither = _invoke(app, "notify", "--url", "json://127.0.0.1:1/x")
    both = _invoke(app, "notify", "--test", "--run", "1", "--url", "json://127.0.0.1:1/x")

    assert neither.exit_code == ExitCode.USAGE
    assert both.exit_code == ExitCode.USAGE
    assert "pass either --test or --run RUN_ID" in neither.stderr


def test_resend_stored_run(app: typer.Typer, receiver: WebhookServer, tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    run = mixed_update_run()
    with HistoryStore.open(database) as store:
        run_id = store.begin_run(run)
        store.save_updates(run_id, run.updates)
        store.finish_run(run_id, run.status, scanner=None)
    url = f"json://127.0.0.1:{receiver.port}/hook"

    result = _invoke(
        app,
        "notify",
        "--run",
        str(run_id),
        "--url",
        url,
        "--db",
        str(database),
        "--report-url",
        "https://hullcheck.lan/runs/1",
    )

    assert result.exit_code == 0, result.output
    body = receiver.requests[0].json()
    assert body["title"] == f"hullcheck update run {run_id}: 1 updated, 5 failed"
    assert "update failed, kept the running version" in body["message"]
    assert "Full report: https://hullcheck.lan/runs/1" in body["message"]
    with HistoryStore.open(database) as store:
        deliveries = store.load_deliveries(run_id)
        state = store.load_notification_state()
    assert [record.success for record in deliveries] == [True]
    assert state == [], "re-sending a run leaves the notification state alone"


def test_resend_missing_run(app: typer.Typer, tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    HistoryStore.open(database).close()

    result = _invoke(
        app, "notify", "--run", "99", "--url", "json://127.0.0.1:1/x", "--db", str(database)
    )

    assert result.exit_code == ExitCode.USAGE
    assert "Run 99 was not found" in result.stderr
