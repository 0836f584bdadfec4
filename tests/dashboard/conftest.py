"""A seeded history, a dashboard server on loopback and headless Chromium for the tests.

Chromium is Debian's package (scripts/bootstrap installs it); Playwright never downloads
a browser here. When Chromium is missing, the browser tests fail with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_client import ConsoleErrors, StartServer
from dashboard_samples import SeededHistory, seed_history
from playwright.sync_api import BrowserContext, ConsoleMessage, Page

from browser_support import chromium_context
from hullcheck.dashboard import DashboardConfig, DashboardServer, create_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's headless Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def history(tmp_path: Path) -> SeededHistory:
    return seed_history(tmp_path / "history.db")


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start dashboards on 127.0.0.1 with a free port; each is shut down after the test."""
    started: list[tuple[DashboardServer, threading.Thread]] = []

    def start(database: Path, token: str | None = None) -> DashboardServer:
        server = create_server(
            DashboardConfig(database=database, host="127.0.0.1", port=0, token=token)
        )
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def dashboard(start_server: StartServer, history: SeededHistory) -> DashboardServer:
    return start_server(history.path)


# Module scope, because only one Playwright sync session may run at a time and the
# HTML and dashboard tests each start their own.
@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """A browser context with a fresh profile directory of its own."""
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser_context: BrowserContext, console_errors: ConsoleErrors) -> Iterator[Page]:
    browser_context.clear_cookies()
    opened = browser_context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        yield opened
    finally:
        opened.close()
