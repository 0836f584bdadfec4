"""The dashboard's pages in headless Chromium: loading, chart, drill-down, search, escaping."""

from __future__ import annotations

import pytest
from dashboard_client import ConsoleErrors
from dashboard_samples import APP, CACHE, DB, HOSTILE_REASON, SeededHistory
from playwright.sync_api import Page

from hullcheck.dashboard import DashboardServer

PAGES = [
    "/runs",
    "/runs/1",
    "/runs/2",
    "/runs/4",
    "/runs/5",
    "/images",
    "/findings",
    "/findings?cve=CVE-2024-0727&all=1",
    "/trends",
]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors(
    page: Page, dashboard: DashboardServer, console_errors: ConsoleErrors, path: str
) -> None:
    response = page.goto(dashboard.url.rstrip("/") + path)

    assert response is not None
    assert response.status == 200
    assert page.locator("nav a").count() == 5
    assert console_errors == []


def test_root_redirects_to_runs(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url)

    assert page.url == dashboard.url + "runs"
    assert page.locator("#runs-table tbody tr").count() == 5


def test_trend_chart_visible(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "trends")
    chart = page.locator("svg#trend-chart")

    box = chart.bounding_box()
    assert chart.is_visible()
    assert box is not None
    assert box["width"] > 0
    assert box["height"] > 0
    # Run 2 scanned nothing, so the lines break there instead of dropping to zero, and run 5
    # is still running with no image yet.
    assert chart.locator("polyline.series-critical").count() == 2
    assert chart.locator("g.no-result").count() == 2


def test_run_page_has_trend_up_to_run(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "runs/3")

    chart = page.locator("svg#trend-chart")
    assert chart.is_visible()
    labels = chart.locator("text").all_text_contents()
    assert "#3" in labels
    assert "#4" not in labels


def test_drilldown_opens(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "runs/1")
    details = page.locator("details#image-1")
    assert details.get_attribute("open") is None
    assert not details.locator("table.findings").is_visible()

    details.locator("summary").click()

    assert details.get_attribute("open") is not None
    rows = details.locator("table.findings tbody tr")
    assert rows.count() == 3
    assert rows.first.locator("td").first.inner_text() == "CVE-2023-45853"
    assert rows.first.locator("td").nth(1).inner_text() == "CRITICAL"


def test_image_link_opens_drilldown_target(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "images")
    page.get_by_role("link", name=DB).click()

    assert page.url.endswith("/runs/4#image-3")
    failed = page.locator("details#image-3")
    failed.locator("summary").click()
    assert "unknown, not zero" in failed.inner_text()


def test_failed_image_never_zero(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "runs/3")
    row = page.locator("#image-table tbody tr[data-status='failed']")

    cells = row.locator("td").all_inner_texts()
    assert cells[2] == "scan failed: trivy timed out after 300 s"
    assert cells[3:] == ["—", "—", "—"]


@pytest.mark.parametrize(
    ("field", "text", "every_run", "expected"),
    [
        ("cve", "cve-2024-0727", False, [(APP, "4")]),
        ("cve", "CVE-2024-0727", True, [(APP, "4"), (APP, "3"), (APP, "1"), (DB, "1")]),
        ("package", "busybox", False, [(CACHE, "4")]),
        ("image", "postgres", True, [(DB, "1")]),
        ("image", "postgres", False, []),
        ("cve", "%", True, []),
    ],
)
def test_findings_search(
    page: Page,
    dashboard: DashboardServer,
    field: str,
    text: str,
    every_run: bool,
    expected: list[tuple[str, str]],
) -> None:
    page.goto(dashboard.url + "findings")
    page.locator(f"input[name='{field}']").fill(text)
    if every_run:
        page.locator("input[name='all']").check()
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/findings?*")

    rows = page.locator("#findings-table tbody tr")
    found = [
        (row.locator("td").nth(6).inner_text(), row.locator("td").nth(7).inner_text().split(",")[0])
        for row in rows.all()
    ]
    assert found == expected
    assert page.locator(f"input[name='{field}']").input_value() == text


def test_stored_text_is_escaped(page: Page, dashboard: DashboardServer) -> None:
    page.goto(dashboard.url + "images")

    assert page.locator("script").count() == 0
    status = page.locator("#images-table tr[data-status='failed'] td").nth(2).inner_text()
    assert status == f"failed: {HOSTILE_REASON}"


def test_running_run_listed(page: Page, dashboard: DashboardServer, history: SeededHistory) -> None:
    page.goto(dashboard.url + "runs")

    first = page.locator("#runs-table tbody tr").first.locator("td").all_inner_texts()
    assert first[0] == str(history.run_ids[-1])
    assert first[3] == "running"
    assert first[5:7] == ["—", "—"]
