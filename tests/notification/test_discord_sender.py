"""The Discord sender against a local server that responds like Discord's webhook API."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from discord_limits import limit_violations
from notification_lab import RecordedSleep, Reply, WebhookServer, closed_port
from notification_runs import many_images_run

from hullcheck.notification import DiscordOptions, DiscordSender, build_message
from hullcheck.notification.discord import retry_after_seconds

WEBHOOK_ID = "112233445566778899"
TOKEN = "hk-Secret_Token-0123456789abcdefABCDEF"
V10_PATH = f"/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"

RATE_LIMITED = Reply.json(
    429,
    {"message": "You are being rate limited.", "retry_after": 1.5, "global": False},
    {"Retry-After": "2"},
)


@pytest.fixture
def discord() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    try:
        yield server
    finally:
        server.stop()


def _sender(server: WebhookServer, sleep: RecordedSleep, **options: object) -> DiscordSender:
    settings = DiscordOptions(api_base=server.base_url, **options)  # type: ignore[arg-type]
    return DiscordSender(settings, sleep=sleep)


def test_posts_to_versioned_path(discord: WebhookServer) -> None:
    sender = _sender(discord, RecordedSleep())

    result = sender.send(f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3)))

    assert result.success
    assert result.messages == 1
    assert [request.path for request in discord.requests] == [V10_PATH]
    body = discord.requests[0].json()
    assert body["embeds"]
    assert limit_violations(body) == []


def test_https_url_is_versioned(discord: WebhookServer) -> None:
    sender = _sender(discord, RecordedSleep())
    url = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=42"

    result = sender.send(url, build_message(many_images_run(3)))

    assert result.success
    assert discord.requests[0].path == V10_PATH
    assert discord.requests[0].query == {"thread_id": ["42"]}
    assert result.target == f"https://discord.com/api/webhooks/{WEBHOOK_ID}/***"


def test_rate_limit_retries_after_body_value(discord: WebhookServer) -> None:
    discord.reply_with(RATE_LIMITED)
    sleep = RecordedSleep()

    result = _sender(discord, sleep).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3))
    )

    assert result.success
    assert sleep.calls == [1.5]
    assert len(discord.requests) == 2
    assert discord.requests[0].body == discord.requests[1].body
    assert result.waited_seconds == 1.5


def test_unversioned_retry_after_in_ms(discord: WebhookServer) -> None:
    discord.reply_with(Reply.json(429, {"retry_after": 1500}))
    sleep = RecordedSleep()
    sender = _sender(discord, sleep, api_version=None)

    result = sender.send(f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3)))

    assert result.success
    assert discord.requests[0].path == f"/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
    assert sleep.calls == [1.5]


def test_retry_after_units() -> None:
    def headers(**values: str) -> object:
        import requests

        return requests.structures.CaseInsensitiveDict(values)

    assert retry_after_seconds('{"retry_after": 1.5}', headers(), 10) == 1.5
    assert retry_after_seconds('{"retry_after": 1500}', headers(), None) == 1.5
    assert retry_after_seconds('{"retry_after": 1500}', headers(), 6) == 1.5
    assert retry_after_seconds('{"retry_after": 1500}', headers(**{"Retry-After": "2"}), 10) == 1.5
    assert retry_after_seconds('{"retry_after": 1.5}', headers(**{"Retry-After": "2"}), None) == 1.5
    assert retry_after_seconds("not json", headers(**{"Retry-After": "3"}), 10) == 3.0
    assert retry_after_seconds("", headers(**{"X-RateLimit-Reset-After": "0.25"}), 10) == 0.25


def test_rate_limit_wait_is_capped(discord: WebhookServer) -> None:
    discord.reply_with(Reply.json(429, {"retry_after": 45.0}, {"Retry-After": "45"}))
    sleep = RecordedSleep()

    result = _sender(discord, sleep, max_total_wait=30.0).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3))
    )

    assert not result.success
    assert sleep.calls == []
    assert result.error is not None
    assert "HTTP 429" in result.error
    assert "45.00 s" in result.error
    assert len(discord.requests) == 1


def test_repeated_rate_limits_stop(discord: WebhookServer) -> None:
    discord.reply_with(*[RATE_LIMITED] * 10)
    sleep = RecordedSleep()

    result = _sender(discord, sleep, max_attempts=3).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3))
    )

    assert not result.success
    assert sleep.calls == [1.5, 1.5]
    assert len(discord.requests) == 3


def test_messages_sent_in_order(discord: WebhookServer) -> None:
    message = build_message(many_images_run(120))
    discord.reply_with(Reply(204), RATE_LIMITED)
    sleep = RecordedSleep()

    result = _sender(discord, sleep).send(f"discord://{WEBHOOK_ID}/{TOKEN}", message)

    assert result.success
    assert result.messages >= 2
    bodies = [request.json() for request in discord.requests]
    assert bodies[1] == bodies[2], "the rate-limited message is sent again, then the rest"
    assert len(bodies) == result.messages + 1
    for body in bodies:
        assert limit_violations(body) == []


def test_empty_bucket_waits_before_next(discord: WebhookServer) -> None:
    emptied = Reply(204, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.8"})
    discord.reply_with(emptied, emptied, emptied)
    sleep = RecordedSleep()

    result = _sender(discord, sleep).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(120))
    )

    assert result.success
    assert sleep.calls[:2] == [0.8, 0.8]
    assert len(sleep.calls) == min(3, result.messages - 1)


def test_bad_request_body_is_logged(
    discord: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    rejection = {"content": ["Must be 2000 or fewer in length."]}
    discord.reply_with(Reply.json(400, rejection))
    caplog.set_level(logging.DEBUG)

    result = _sender(discord, RecordedSleep()).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(120))
    )

    assert not result.success
    assert result.messages == len(discord.requests) - 1, "later messages are still sent"
    assert result.error is not None
    assert "Must be 2000 or fewer in length." in result.error
    logged = [r.getMessage() for r in caplog.records if "HTTP 400" in r.getMessage()]
    assert any("Must be 2000 or fewer in length." in line for line in logged)


def test_unknown_webhook_stops(discord: WebhookServer) -> None:
    discord.reply_with(Reply.json(404, {"message": "Unknown Webhook", "code": 10015}))

    result = _sender(discord, RecordedSleep()).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(120))
    )

    assert not result.success
    assert len(discord.requests) == 1
    assert result.error is not None
    assert "Unknown Webhook" in result.error
    assert "later messages not sent" in result.error


def test_server_error_is_retried(discord: WebhookServer) -> None:
    discord.reply_with(Reply(502))
    sleep = RecordedSleep()

    result = _sender(discord, sleep).send(
        f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3))
    )

    assert result.success
    assert sleep.calls == [1.0]


def test_connection_refused_is_redacted() -> None:
    sender = DiscordSender(
        DiscordOptions(api_base=f"http://127.0.0.1:{closed_port()}", timeout=2.0),
        sleep=RecordedSleep(),
    )

    result = sender.send(f"discord://{WEBHOOK_ID}/{TOKEN}", build_message(many_images_run(3)))

    assert not result.success
    assert result.error is not None
    assert "ConnectionError" in result.error
    assert TOKEN not in result.error
    assert TOKEN not in result.target


def test_text_format_sends_content_only(discord: WebhookServer) -> None:
    sender = _sender(discord, RecordedSleep())

    result = sender.send(
        f"discord://hullbot@{WEBHOOK_ID}/{TOKEN}?format=text", build_message(many_images_run(40))
    )

    assert result.success
    bodies = [request.json() for request in discord.requests]
    assert len(bodies) >= 2
    for body in bodies:
        assert "embeds" not in body
        assert len(body["content"]) <= 2000
        assert body["username"] == "hullbot"
