"""The HTML report opened from a file in headless Chromium, with no server and no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from html_samples import HOSTILE, report_run, summary, update_run
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request

from hullcheck.reporting.html import render_html

pytestmark = pytest.mark.browser


def open_report(chromium: BrowserContext, tmp_path: Path, html: str) -> tuple[Page, list[str]]:
    """Open ``html`` from a file; return the page and a list that collects errors and requests."""
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    page = chromium.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith(("file:", "data:")):
            problems.append(f"request: {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", on_request)
    page.goto(path.as_uri())
    return page, problems


def test_report_file_loads_offline(chromium: BrowserContext, tmp_path: Path) -> None:
    html = render_html(update_run(), history=[summary(5, 3, 4), summary(6, 0, 0, scanned=0)])
    page, problems = open_report(chromium, tmp_path, html)
    try:
        assert page.title() == "hullcheck report: update run 8"
        assert page.locator("script").count() == 0
        assert HOSTILE in page.locator("#images").inner_text()
        assert problems == []
    finally:
        page.close()


def test_report_chart_visible(chromium: BrowserContext, tmp_path: Path) -> None:
    html = render_html(report_run(), history=[summary(5, 3, 4), summary(6, 1, 2)])
    page, problems = open_report(chromium, tmp_path, html)
    try:
        chart = page.locator("svg#trend-chart")
        box = chart.bounding_box()
        assert chart.is_visible()
        assert box is not None
        assert box["width"] > 0
        assert box["height"] > 0
        assert chart.locator("polyline.series-high").count() == 1
        assert problems == []
    finally:
        page.close()


def test_report_drilldown_opens(chromium: BrowserContext, tmp_path: Path) -> None:
    page, problems = open_report(chromium, tmp_path, render_html(report_run()))
    try:
        details = page.locator("details#image-1")
        table = details.locator("table.findings")
        assert not table.is_visible()

        page.get_by_role("link", name="127.0.0.1:5000/shop/app:1").click()
        details.locator("summary").click()

        assert table.is_visible()
        assert table.locator("tbody tr").count() == 4
        assert details.locator(".badge-kev").count() == 1
        assert details.locator("tr.accepted").count() == 1
        assert problems == []
    finally:
        page.close()
