"""Apprise delivering for real to a local HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notification_lab import RecordedSleep, Reply, WebhookServer, closed_port
from notification_runs import mixed_update_run

from hullcheck.notification import (
    Deliverer,
    DiscordOptions,
    build_message,
    build_test_message,
    render_text,
)


@pytest.fixture
def receiver() -> Iterator[WebhookServer]:
    server = WebhookServer(default=Reply(200, {"Content-Type": "text/plain"}, b"ok")).start()
    try:
        yield server
    finally:
        server.stop()


def test_json_target_receives_message(receiver: WebhookServer) -> None:
    message = build_message(mixed_update_run(), report_location="/srv/reports/run-12.md")
    url = f"json://127.0.0.1:{receiver.port}/hooks/hullcheck"

    results = Deliverer().deliver(message, [url])

    assert [result.success for result in results] == [True]
    assert results[0].channel == "JSON"
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/hullcheck"
    body = request.json()
    assert body["title"] == message.title
    assert body["message"] == render_text(message)
    assert body["type"] == "failure"
    assert "update failed, kept the running version" in body["message"]
    assert "Full report: /srv/reports/run-12.md" in body["message"]


def test_form_target_receives_message(receiver: WebhookServer) -> None:
    message = build_test_message()

    results = Deliverer().deliver(message, [f"form://127.0.0.1:{receiver.port}/notify"])

    assert results[0].success
    form = receiver.requests[0].form()
    assert form["title"] == ["hullcheck test notification"]
    assert "hullcheck can deliver notifications" in form["message"][0]
    assert form["type"] == ["info"]


def test_server_error_is_a_failed_result(receiver: WebhookServer) -> None:
    receiver.reply_with(Reply(500, {}, b"broken"))
    url = f"json://127.0.0.1:{receiver.port}/hooks/t0k3n-abcdef123456"

    results = Deliverer().deliver(build_test_message(), [url])

    assert not results[0].success
    assert results[0].error is not None
    assert "500" in results[0].error
    assert results[0].target == f"json://127.0.0.1:{receiver.port}/hooks/***"


def test_refused_connection_is_a_failed_result() -> None:
    url = f"json://127.0.0.1:{closed_port()}/hook"

    results = Deliverer().deliver(build_test_message(), [url])

    assert not results[0].success
    assert results[0].error is not None
    assert "Connection error" in results[0].error


def test_invalid_url_is_a_failed_result() -> None:
    results = Deliverer().deliver(build_test_message(), ["nosuchscheme://example/abc123secret"])

    assert not results[0].success
    assert results[0].error is not None
    assert "invalid or unsupported" in results[0].error
    assert "abc123secret" not in results[0].target


def test_one_failure_does_not_stop_others(receiver: WebhookServer) -> None:
    discord = WebhookServer().start()
    try:
        deliverer = Deliverer(DiscordOptions(api_base=discord.base_url), sleep=RecordedSleep())
        urls = [
            f"json://127.0.0.1:{closed_port()}/down",
            "discord://123456789/TokenOfDiscordWebhook_123",
            f"json://127.0.0.1:{receiver.port}/up",
        ]

        results = deliverer.deliver(build_test_message(), urls)
    finally:
        discord.stop()

    assert [result.success for result in results] == [False, True, True]
    assert [result.channel for result in results] == ["JSON", "discord", "JSON"]
    assert len(discord.requests) == 1
    assert len(receiver.requests) == 1
