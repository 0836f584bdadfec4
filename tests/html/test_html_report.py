"""render_html: a self-contained, escaped page with summary, images, updates and trend."""

from __future__ import annotations

import re

from html_samples import (
    HOSTILE,
    STARTED,
    failed_scan,
    report_run,
    summary,
    update_run,
)
from html_tree import Element, parse_html

from hullcheck.analysis.models import Finding, Severity
from hullcheck.reporting.html import (
    REPORT_CSS,
    build_trend,
    point_from_run,
    render_html,
    trend_points,
)
from hullcheck.run import RunRecord, RunStatus


def render(run: RunRecord, **options: object) -> Element:
    return parse_html(render_html(run, **options))  # type: ignore[arg-type]


def image_rows(document: Element) -> dict[str, list[str]]:
    table = document.find("table", id="image-table")
    rows = table.find("tbody").find_all("tr")
    return {row.cells()[0].split(" ")[0]: row.cells() for row in rows}


def test_summary_cards() -> None:
    document = render(report_run())

    assert document.find("div", id="run-status").text() == "partial"
    assert document.find("div", id="total-critical").text() == "2"
    assert document.find("div", id="total-high").text() == "1"
    assert document.find("div", id="trivy-version").text() == "0.76.0"
    assert document.find("div", id="db-updated").text() == "2026-03-02 09:00 UTC"
    assert "2 days old at the end of the run" in document.find("section", id="summary").text()
    assert "the totals are incomplete" in document.find("p", id="totals").text()


def test_image_table_counts() -> None:
    rows = image_rows(render(report_run()))

    app = rows["127.0.0.1:5000/shop/app:1"]
    assert app[2] == "scanned"
    assert app[3:] == ["2 (1 fixable)", "1 (1 fixable)", "2"]


def test_failed_image_never_zero() -> None:
    rows = image_rows(render(report_run()))

    failed = rows["docker.io/library/postgres:16-alpine"]
    assert failed[2] == f"scan failed: timeout: {HOSTILE}"
    assert failed[3:] == ["—", "—", "—"]


def test_failed_drilldown_says_unknown() -> None:
    document = render(report_run())

    details = document.find("details", id="image-2")
    assert "Its vulnerabilities are unknown, not zero" in details.text()
    assert details.find_all("table") == []


def test_drilldown_lists_packages() -> None:
    document = render(report_run())

    rows = document.find("details", id="image-1").find("tbody").find_all("tr")
    assert [row.cells()[:6] for row in rows] == [
        ["CVE-2023-45853", "CRITICAL", "zlib1g", "1.0-1", "—", "will_not_fix"],
        ["CVE-2024-3094", "CRITICAL", "xz-utils", "1.0-1", "5.6.1+really5.4.5-1", "fixed"],
        ["CVE-2024-0727", "HIGH", "libssl3", "1.0-1", "3.0.13-1~deb12u1", "fixed"],
        ["CVE-2024-0727", "HIGH", "openssl", "1.0-1", "3.0.13-1~deb12u1", "fixed"],
    ]


def test_drilldown_severity_selection() -> None:
    document = render(report_run(), severities=(Severity.MEDIUM,))

    rows = document.find("details", id="image-1").find("tbody").find_all("tr")
    assert [row.cells()[0] for row in rows] == ["CVE-2023-6237"]
    # Counts stay complete whatever the detail lists.
    assert document.find("div", id="total-critical").text() == "2"


def test_kev_epss_priority_badges() -> None:
    document = render(report_run())

    rows = document.find("details", id="image-1").find("tbody").find_all("tr")
    xz_notes = rows[1].cells()[6]
    assert "KEV" in xz_notes
    assert "EPSS 87.1%" in xz_notes
    assert "priority 1" in xz_notes
    assert "KEV" not in rows[0].cells()[6]
    assert "KEV 1" in image_rows(document)["127.0.0.1:5000/shop/app:1"][0]


def test_accepted_risk_marked() -> None:
    document = render(report_run())

    rows = document.find("details", id="image-1").find("tbody").find_all("tr")
    assert rows[0].attrs.get("class") == "accepted"
    assert "accepted no zip files are written (until 2026-06-01)" in rows[0].cells()[6]
    assert rows[1].attrs.get("class") is None


def test_plain_findings_have_no_badges() -> None:
    run = report_run()
    scan = run.images[0]
    assert scan.findings is not None
    plain = tuple(
        Finding(
            vulnerability_id=finding.vulnerability_id,
            severity=finding.severity,
            packages=finding.packages,
        )
        for finding in scan.findings.findings
    )
    plain_scan = scan.model_copy(
        update={"findings": scan.findings.model_copy(update={"findings": plain})}
    )

    document = render(run.model_copy(update={"images": [plain_scan]}))

    notes = [row.cells()[6] for row in document.find("details", id="image-1").find_all("tr")[1:]]
    assert notes == ["", "", "", ""]
    assert "KEV" not in image_rows(document)["127.0.0.1:5000/shop/app:1"][0]


def test_unsafe_link_not_linked() -> None:
    document = render(report_run())

    hrefs = [element.attrs.get("href") for element in document.find_all("a")]
    assert "https://avd.aquasec.com/nvd/cve-2023-45853" in hrefs
    assert all("javascript" not in (href or "").lower() for href in hrefs)


def test_everything_escaped() -> None:
    html = render_html(update_run())

    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_self_contained() -> None:
    document = render(report_run(), history=[summary(5, 3, 4), summary(6, 2, 2)])

    assert document.find_all("script") == []
    assert [element.attrs for element in document.find_all("link")] == [
        {"rel": "icon", "href": "data:,"}
    ]
    for element in document.iter():
        assert "src" not in element.attrs, element.tag
        href = element.attrs.get("href") or "#"
        assert href.startswith(("#", "data:", "https://avd.aquasec.com/")), href
    assert document.find("style").text() == " ".join(REPORT_CSS.split())
    assert not re.search(r"url\(|@import", REPORT_CSS)


def test_update_deltas() -> None:
    document = render(update_run())

    rows = document.find("section", id="updates").find("tbody").find_all("tr")
    web, db = (row.cells() for row in rows)
    assert web[:6] == ["shop/web", "127.0.0.1:5000/shop/app:1", "updated", "2", "1", "1"]
    assert "brings: CVE-2024-3094" in web[6]
    assert db[2:6] == ["held", "—", "—", "—"]
    assert db[6] == f"new CRITICAL {HOSTILE} | ATTENTION: known exploited"


def test_scan_has_no_update_section() -> None:
    document = render(report_run())

    assert document.find_all("section", id="updates") == []


def test_no_trend_without_history() -> None:
    document = render(report_run())

    assert document.find_all("svg") == []


def test_trend_adds_current_run() -> None:
    document = render(report_run(7), history=[summary(6, 5, 9), summary(5, 4, 3)])

    chart = document.find("svg", id="trend-chart")
    labels = [text.text() for text in chart.find_all("text")]
    assert [label for label in labels if label.startswith("#")] == ["#5", "#6", "#7"]
    assert len(chart.find_all("polyline", class_="series-critical")) == 1


def test_trend_gap_for_run_without_result() -> None:
    points = trend_points(
        [summary(4, 1, 1), summary(3, 0, 0, scanned=0, failed=2), summary(2, 2, 3)]
    )

    chart = build_trend(points)

    assert [point.run_id for point in points] == [2, 3, 4]
    assert len(chart.critical_segments) == 2
    assert [mark.critical_y is None for mark in chart.marks] == [False, True, False]


def test_trend_scale_covers_maximum() -> None:
    chart = build_trend(trend_points([summary(1, 3, 17), summary(2, 0, 1)]))

    values = [value for _, value in chart.ticks]
    assert values[0] == 0
    assert values[-1] >= 17
    assert len(values) <= 6
    high_ys = [mark.high_y for mark in chart.marks]
    assert high_ys[0] is not None
    assert high_ys[0] >= chart.top
    assert min(y for y, _ in chart.ticks) <= high_ys[0]


def test_point_from_failed_run_is_gap() -> None:
    run = RunRecord(
        command="scan",
        started_at=STARTED,
        status=RunStatus.PARTIAL,
        images=[failed_scan("timeout")],
    )

    point = point_from_run(run)

    assert point.has_result is False
    assert point.images_failed == 1
