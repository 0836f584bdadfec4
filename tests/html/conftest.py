"""Headless Chromium for the HTML report tests: Debian's package, never a downloaded browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from browser_support import chromium_context


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's headless Chromium")


# Module scope, because only one Playwright sync session may run at a time and the
# HTML and dashboard tests each start their own.
@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """A browser context with a fresh profile directory of its own."""
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context
