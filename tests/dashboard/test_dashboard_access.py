"""Who may read the dashboard: token checks, loopback binding, read-only methods."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dashboard_client import TOKEN, StartServer, request
from dashboard_samples import SeededHistory
from playwright.sync_api import Page

from hullcheck.dashboard import DashboardConfig, DashboardServer, create_server, open_read_only
from hullcheck.dashboard.security import COOKIE_NAME, check_binding, is_loopback
from hullcheck.dashboard.server import redact
from hullcheck.errors import ConfigurationError
from hullcheck.run import RunRecord, RunStatus
from hullcheck.storage import HistoryStore


@pytest.fixture
def guarded(start_server: StartServer, history: SeededHistory) -> DashboardServer:
    return start_server(history.path, token=TOKEN)


@pytest.mark.parametrize(
    "path", ["/runs", "/runs/4", "/images", "/findings", "/trends", "/metrics"]
)
def test_token_required(guarded: DashboardServer, path: str) -> None:
    status, headers, _ = request(guarded, path)

    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="hullcheck"'


@pytest.mark.parametrize(
    "path", ["/runs", "/runs/4", "/images", "/findings", "/trends", "/metrics"]
)
def test_bearer_token_accepted(guarded: DashboardServer, path: str) -> None:
    status, _, _ = request(guarded, path, headers={"Authorization": f"Bearer {TOKEN}"})

    assert status == 200


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer", TOKEN, ""],
)
def test_wrong_credentials_rejected(guarded: DashboardServer, authorization: str) -> None:
    status, _, body = request(guarded, "/runs", headers={"Authorization": authorization})

    assert status == 401
    assert TOKEN.encode() not in body


def test_forged_cookie_rejected(guarded: DashboardServer) -> None:
    status, _, _ = request(guarded, "/runs", headers={"Cookie": f"{COOKIE_NAME}={TOKEN}"})

    assert status == 401


def test_query_token_sets_cookie(page: Page, guarded: DashboardServer) -> None:
    response = page.goto(guarded.url + f"images?token={TOKEN}")

    assert response is not None
    assert response.status == 200
    assert page.url == guarded.url + "images"
    cookies = page.context.cookies(guarded.url)
    assert [cookie["name"] for cookie in cookies] == [COOKIE_NAME]
    assert cookies[0]["httpOnly"] is True
    assert cookies[0]["sameSite"] == "Strict"
    assert TOKEN not in cookies[0]["value"]
    # The cookie alone opens the other pages.
    later = page.goto(guarded.url + "trends")
    assert later is not None
    assert later.status == 200


def test_wrong_query_token_rejected(page: Page, guarded: DashboardServer) -> None:
    response = page.goto(guarded.url + "runs?token=not-the-token-at-all")

    assert response is not None
    assert response.status == 401
    assert page.context.cookies(guarded.url) == []


def test_no_token_needed_without_token(dashboard: DashboardServer) -> None:
    status, _, _ = request(dashboard, "/runs")

    assert status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_write_methods_rejected(dashboard: DashboardServer, method: str) -> None:
    status, headers, _ = request(dashboard, "/runs", method=method)

    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_head_matches_get(dashboard: DashboardServer) -> None:
    get_status, get_headers, get_body = request(dashboard, "/runs/4")
    head_status, head_headers, head_body = request(dashboard, "/runs/4", method="HEAD")

    assert (get_status, head_status) == (200, 200)
    assert head_body == b""
    assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))


def test_security_headers(dashboard: DashboardServer) -> None:
    _, headers, _ = request(dashboard, "/runs")

    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_history_never_written(start_server: StartServer, history: SeededHistory) -> None:
    with HistoryStore.open(history.path) as store:
        # A run without an owner is marked interrupted by the next store that opens to write.
        orphan = store.begin_run(RunRecord(command="scan", started_at=datetime.now(UTC)))
    before = hashlib.sha256(history.path.read_bytes()).hexdigest()
    server = start_server(history.path)

    for path in ("/runs", f"/runs/{orphan}", "/images", "/findings?cve=CVE", "/trends", "/metrics"):
        assert request(server, path)[0] == 200

    assert hashlib.sha256(history.path.read_bytes()).hexdigest() == before
    with open_read_only(history.path) as reader:
        assert reader.store.load_run(orphan).status is RunStatus.RUNNING


def test_read_only_connection(history: SeededHistory) -> None:
    with open_read_only(history.path) as reader, pytest.raises(sqlite3.OperationalError):
        reader.connection.execute("DELETE FROM runs")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/runs/99", 404), ("/nowhere", 404), ("/runs?limit=0", 400), ("/runs/4?severity=BAD", 400)],
)
def test_error_statuses(dashboard: DashboardServer, path: str, status: int) -> None:
    assert request(dashboard, path)[0] == status


def test_missing_history_unavailable(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(tmp_path / "absent.db")

    status, _, body = request(server, "/runs")

    assert status == 503
    assert b"was not found" in body


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.20", False),
        ("dashboard.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20"])
def test_other_bind_needs_token(host: str, tmp_path: Path) -> None:
    config = DashboardConfig(database=tmp_path / "history.db", host=host, port=0)

    with pytest.raises(ConfigurationError) as raised:
        create_server(config)

    assert "without a token" in raised.value.message
    assert raised.value.hint is not None
    assert "--token" in raised.value.hint


def test_other_bind_allowed_with_token() -> None:
    check_binding("0.0.0.0", TOKEN)


@pytest.mark.parametrize("token", ["short", "has a space in it 123", "tökenwithumlaut-123456"])
def test_weak_token_rejected(token: str) -> None:
    with pytest.raises(ConfigurationError):
        check_binding("127.0.0.1", token)


def test_redact_hides_token() -> None:
    assert redact(f"/runs?x=1&token={TOKEN}&y=2") == "/runs?x=1&token=[redacted]&y=2"
    assert TOKEN not in redact(f"GET /?TOKEN={TOKEN} HTTP/1.1")
