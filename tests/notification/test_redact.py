"""Redaction of notification URLs and of log records that contain them."""

from __future__ import annotations

import logging

import pytest

from hullcheck.notification import redact_url
from hullcheck.notification.redact import redacting_logs, url_secrets


@pytest.mark.parametrize(
    ("url", "expected", "secret"),
    [
        ("discord://112233/Tok3n_secret-value", "discord://112233/***", "Tok3n_secret-value"),
        (
            "discord://bot@112233/Tok3n_secret-value",
            "discord://bot@112233/***",
            "Tok3n_secret-value",
        ),
        (
            "https://discord.com/api/webhooks/112233/Tok3n_secret-value",
            "https://discord.com/api/webhooks/112233/***",
            "Tok3n_secret-value",
        ),
        (
            "https://discordapp.com/api/v9/webhooks/112233/Tok3n_secret-value?wait=true",
            "https://discordapp.com/api/v9/webhooks/112233/***",
            "Tok3n_secret-value",
        ),
        (
            "json://user:hunter2pass@127.0.0.1:8080/hooks/abc123TOKEN?format=text&key=k3y-value",
            "json://***:***@127.0.0.1:8080/hooks/***?format=text&key=***",
            "abc123TOKEN",
        ),
        (
            "tgram://123456789:ABCdefGhIJKlmnOPQrstUVwxyz/12345",
            "tgram://***/***",
            "ABCdefGhIJKlmnOPQrstUVwxyz",
        ),
        (
            "ntfys://tk_abcdef123456@ntfy.example/topic",
            "ntfys://***@ntfy.example/***",
            "tk_abcdef123456",
        ),
        (
            "mailto://user:s3cretpass@mail.example.com",
            "mailto://***:***@mail.example.com",
            "s3cretpass",
        ),
    ],
)
def test_redact_url_hides_secret(url: str, expected: str, secret: str) -> None:
    assert redact_url(url) == expected
    assert secret in url_secrets(url)


def test_redact_url_keeps_plain_path() -> None:
    assert redact_url("json://127.0.0.1:9000/notify/hullcheck") == (
        "json://127.0.0.1:9000/notify/hullcheck"
    )


def test_redact_url_invalid_text() -> None:
    assert redact_url("no scheme at all abc123secret") == "<invalid URL>"


def test_password_of_unknown_scheme() -> None:
    text = redact_url("unknownscheme://admin:p4ssw0rd@host.example/x9y8z7")

    assert "p4ssw0rd" not in text
    assert "x9y8z7" not in text


def test_log_records_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = "discord://112233/Tok3n_secret-value"
    third_party = logging.getLogger("urllib3.connectionpool")

    with redacting_logs(url_secrets(url)):
        third_party.debug('"POST /api/v10/webhooks/112233/%s HTTP/1.1" 204 0', "Tok3n_secret-value")
        try:
            raise ConnectionError(f"cannot reach {url}")
        except ConnectionError:
            logging.getLogger("apprise").exception("failed")
    third_party.debug("after the block: %s", "Tok3n_secret-value")

    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == '"POST /api/v10/webhooks/112233/*** HTTP/1.1" 204 0'
    assert caplog.records[1].exc_text is not None
    assert "Tok3n_secret-value" not in caplog.records[1].exc_text
    assert "cannot reach discord://112233/***" in caplog.records[1].exc_text
    assert messages[2] == "after the block: Tok3n_secret-value", "the factory is restored"


def test_plain_url_stays_readable_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = "json://127.0.0.1:9000/notify"

    with redacting_logs(url_secrets(url)):
        logging.getLogger("hullcheck.test").info("Sent to %s", redact_url(url))

    assert caplog.records[0].getMessage() == "Sent to json://127.0.0.1:9000/notify"
