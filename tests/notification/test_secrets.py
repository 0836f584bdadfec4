"""Webhook secrets never reach a log record, the history, a message or a command's output."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from notification_lab import RecordedSleep, Reply, WebhookServer, closed_port
from notification_runs import mixed_update_run
from typer.testing import CliRunner

from hullcheck.cli import main, notify
from hullcheck.notification import (
    Deliverer,
    DiscordOptions,
    NotifySettings,
    NotifyWhen,
    build_message,
    discord_payloads,
    notify_run,
    render_text,
)
from hullcheck.storage import HistoryStore

DISCORD_TOKEN = "Dc9-SECRET_webhook_token_0123456789abcdefABCDEF"
PATH_TOKEN = "PathToken7f3a9c1e5b"
PASSWORD = "Pa55word-9d8c7b"


@pytest.fixture
def servers() -> Iterator[tuple[WebhookServer, WebhookServer]]:
    discord = WebhookServer().start()
    receiver = WebhookServer(default=Reply(200)).start()
    try:
        yield discord, receiver
    finally:
        discord.stop()
        receiver.stop()


def _urls(discord: WebhookServer, receiver: WebhookServer) -> tuple[str, ...]:
    return (
        f"discord://112233445566/{DISCORD_TOKEN}",
        f"json://hullcheck:{PASSWORD}@127.0.0.1:{receiver.port}/hooks/{PATH_TOKEN}",
        f"json://127.0.0.1:{closed_port()}/down/{PATH_TOKEN}",
    )


def _assert_clean(text: str, where: str) -> None:
    for secret in (DISCORD_TOKEN, PATH_TOKEN, PASSWORD):
        assert secret not in text, f"{secret!r} found in {where}"


def test_no_secret_anywhere(
    servers: tuple[WebhookServer, WebhookServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    discord, receiver = servers
    # The first Discord post is rate limited and the one of the command below is rejected,
    # so the error paths log too.
    discord.reply_with(
        Reply.json(429, {"retry_after": 0.5}, {"Retry-After": "1"}),
        Reply(204),
        Reply.json(400, {"embeds": ["0"]}),
    )
    caplog.set_level(logging.DEBUG)
    urls = _urls(discord, receiver)
    settings = NotifySettings(urls=urls, when=NotifyWhen.ALWAYS)
    deliverer = Deliverer(DiscordOptions(api_base=discord.base_url), sleep=RecordedSleep())
    database = tmp_path / "history.db"
    run = mixed_update_run()

    with HistoryStore.open(database) as store:
        run.run_id = store.begin_run(run)
        store.save_updates(run.run_id, run.updates)
        store.finish_run(run.run_id, run.status, scanner=None)
        outcome = notify_run(run, settings, store=store, deliverer=deliverer)

    assert [result.success for result in outcome.results] == [True, True, False]
    assert len(discord.requests) == 2
    assert len(receiver.requests) == 1
    for result in outcome.results:
        _assert_clean(f"{result.target} {result.error}", f"the result for {result.target}")

    message = build_message(run)
    _assert_clean(render_text(message), "the text rendering")
    _assert_clean(repr(discord_payloads(message)), "the Discord payloads")
    for request in [*discord.requests, *receiver.requests]:
        _assert_clean(request.body.decode(), f"the body sent to {request.path}")

    connection = sqlite3.connect(database)
    dump = "\n".join(connection.iterdump())
    connection.close()
    assert "notification_deliveries" in dump
    _assert_clean(dump, "the history database")

    # The command line, with the URLs in the environment, on the stored run.
    application = typer.Typer(add_completion=False)
    application.callback()(main._root)
    notify.register(application)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HULLCHECK_DISCORD_API_BASE", discord.base_url)
    cli = CliRunner().invoke(
        application,
        ["-vv", "notify", "--run", str(run.run_id), "--db", str(database)],
        env={"HULLCHECK_NOTIFY_URLS": " ".join(urls), "COLUMNS": "400"},
    )
    assert cli.exit_code == 2, cli.output
    assert "failed  discord://112233445566/***: message 1 of 1: HTTP 400" in cli.stdout
    assert "failed  json://127.0.0.1:" in cli.stdout
    _assert_clean(cli.output, "the command output")

    records = caplog.records
    assert any("urllib3" in record.name for record in records), "DEBUG records were captured"
    for record in records:
        _assert_clean(record.getMessage(), f"the log record {record.name}")
        _assert_clean(record.exc_text or "", f"the exception text of {record.name}")
