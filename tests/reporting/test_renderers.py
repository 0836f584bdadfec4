"""The table, JSON and Markdown reports of one fixed run, with golden files."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from reporting_fixtures import APP_IMAGE_ID, assert_matches_golden, cache_findings, make_run
from rich.console import Console

from hullcheck.analysis.models import SEVERITIES, Severity
from hullcheck.reporting import render_json, render_markdown, render_table
from hullcheck.reporting.markdown import escape
from hullcheck.run import REPORT_SCHEMA_VERSION, RunRecord, RunStatus
from hullcheck.scanning.models import FailureClass, ImageScan, ScanStatus

FAILED_IMAGE = "ghcr.io/example/homeassistant:2026.11"
NOTHING_IMAGE = "ghcr.io/example/static:2"


def table_text(run: RunRecord, **options: Any) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render_table(run, console, **options)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def json_report(run: RunRecord, **options: Any) -> dict[str, Any]:
    document = json.loads(render_json(run, **options))
    assert isinstance(document, dict)
    return document


def image_entry(document: dict[str, Any], image: str) -> dict[str, Any]:
    entries = [entry for entry in document["images"] if entry["image"] == image]
    assert len(entries) == 1
    entry = entries[0]
    assert isinstance(entry, dict)
    return entry


def summary_line(text: str, image: str) -> str:
    """Return the one table row, Markdown or Rich, that names ``image``."""
    rows = [line for line in text.splitlines() if image in line and ("|" in line or "│" in line)]
    assert len(rows) == 1, text
    return rows[0]


# Golden files: regenerate with HULLCHECK_UPDATE_GOLDEN=1 (see conftest.py).


def test_json_golden(run: RunRecord) -> None:
    assert_matches_golden("run.json", render_json(run))


def test_markdown_golden(run: RunRecord) -> None:
    assert_matches_golden("run.md", render_markdown(run))


def test_markdown_golden_hide_unfixed_all_severities(run: RunRecord) -> None:
    text = render_markdown(run, severities=SEVERITIES, hide_unfixed=True)

    assert_matches_golden("run-hide-unfixed.md", text)


def test_table_golden(run: RunRecord) -> None:
    assert_matches_golden("run-table.txt", table_text(run))


# A failed or not analysed image must never look like a clean one.


def test_failed_image_json_counts_null(run: RunRecord) -> None:
    entry = image_entry(json_report(run), FAILED_IMAGE)

    assert entry["status"] == "failed"
    assert entry["failure"] == "timeout"
    assert entry["severity_counts"] is None
    assert entry["fixable_counts"] is None
    assert entry["findings"] == []
    assert (
        entry["status_text"]
        == "scan failed: timeout: analyze error: timeout: context deadline exceeded"
    )


def test_failed_image_table_not_zero(run: RunRecord) -> None:
    line = summary_line(table_text(run), FAILED_IMAGE)
    cells = [cell.strip() for cell in line.split("│")[1:-1]]

    assert cells[2].startswith("scan failed: timeout")
    assert cells[3:] == ["—", "—"]
    assert "0" not in cells[3:]


def test_failed_image_markdown_not_zero(run: RunRecord) -> None:
    line = summary_line(render_markdown(run), FAILED_IMAGE)

    assert line.endswith("| — | — |")
    assert "| 0 |" not in line
    assert "scan failed: timeout: analyze error" in line


def test_nothing_analysed_shows_no_counts(run: RunRecord) -> None:
    table_line = summary_line(table_text(run), NOTHING_IMAGE)
    markdown_line = summary_line(render_markdown(run), NOTHING_IMAGE)
    entry = image_entry(json_report(run), NOTHING_IMAGE)

    assert "nothing analysed: Trivy detected no OS and no packages" in table_line
    assert "nothing analysed: nothing analysed" not in table_line
    assert table_line.rstrip().endswith("— │")
    assert markdown_line.endswith("| — | — |")
    assert entry["status"] == "nothing_analysed"
    assert entry["severity_counts"] == {name.value: 0 for name in SEVERITIES}


def test_all_failed_run_has_no_totals() -> None:
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    failed = ImageScan(
        image="example/app:1",
        status=ScanStatus.FAILED,
        failure=FailureClass.DB_UNAVAILABLE,
        reason="db_unavailable: TOOMANYREQUESTS",
    )
    run = RunRecord(command="scan", started_at=started, status=RunStatus.FAILED, images=[failed])

    table = table_text(run)
    markdown = render_markdown(run)
    document = json_report(run)

    assert "No image has a scan result, so there are no totals." in table
    assert "0 Critical" not in table
    assert "0 Critical" not in markdown
    assert "scan failed: db\\_unavailable: TOOMANYREQUESTS" in markdown
    assert document["totals"]["failed"] == 1
    assert document["totals"]["scanned"] == 0


def test_run_error_without_images() -> None:
    run = RunRecord(
        command="scan",
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        status=RunStatus.FAILED,
        error="Trivy [bundled] not found",
    )

    table = table_text(run)
    markdown = render_markdown(run)

    assert "Run failed: Trivy [bundled] not found" in table
    assert "No images to report." in table
    assert "┏" not in table
    assert "Run failed: Trivy \\[bundled\\] not found" in markdown
    assert "| Image |" not in markdown
    assert json_report(run)["run"]["error"] == "Trivy [bundled] not found"


def test_failed_image_without_reason_names_failure() -> None:
    failed = ImageScan(
        image="example/app:1", status=ScanStatus.FAILED, failure=FailureClass.TIMEOUT
    )
    run = RunRecord(command="scan", started_at=datetime(2026, 12, 1, tzinfo=UTC), images=[failed])

    assert "scan failed: timeout" in summary_line(table_text(run), "example/app:1")


# Counts, filters and fields.


def test_json_layout_and_counts(run: RunRecord) -> None:
    document = json_report(run)
    app = image_entry(document, "ghcr.io/example/app:1.4")

    assert document["schema_version"] == REPORT_SCHEMA_VERSION
    assert list(document) == [
        "schema_version",
        "run",
        "scanner",
        "filters",
        "images",
        "problems",
        "totals",
    ]
    assert document["run"] == {
        "id": 7,
        "command": "scan",
        "started_at": "2026-12-01T10:00:00+00:00",
        "finished_at": "2026-12-01T10:05:00+00:00",
        "status": "partial",
        "error": None,
        "feeds": None,
    }
    assert document["scanner"] == {
        "trivy_version": "0.76.0",
        "db_updated_at": "2026-11-28T06:00:00+00:00",
        "db_age_days": 3,
    }
    assert app["image_id"] == APP_IMAGE_ID
    assert app["services"] == ["home/app", "home/worker"]
    assert app["severity_counts"] == {"CRITICAL": 2, "HIGH": 6, "MEDIUM": 0, "LOW": 1, "UNKNOWN": 0}
    assert app["fixable_counts"] == {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
    assert document["totals"]["severity_counts"]["CRITICAL"] == 2
    assert document["totals"]["severity_counts"]["MEDIUM"] == 1
    assert document["totals"]["images"] == 4
    assert document["problems"][0]["variable"] == "SECRET_KEY"


def test_json_findings_follow_severity_filter(run: RunRecord) -> None:
    default = image_entry(json_report(run), "ghcr.io/example/app:1.4")
    low_only = image_entry(json_report(run, severities=[Severity.LOW]), "ghcr.io/example/app:1.4")

    assert len(default["findings"]) == 8
    assert {f["severity"] for f in default["findings"]} == {"CRITICAL", "HIGH"}
    assert [f["id"] for f in low_only["findings"]] == ["CVE-2000-0002"]
    assert low_only["severity_counts"] == default["severity_counts"]


def test_json_package_fields(run: RunRecord) -> None:
    app = image_entry(json_report(run), "ghcr.io/example/app:1.4")
    gem = next(f for f in app["findings"] if f["id"] == "CVE-2020-8165")

    assert gem["severity"] == "HIGH"
    assert gem["fixable"] is True
    assert gem["vendor_severity"] == {"ghsa": 3, "nvd": 4}
    assert gem["packages"] == [
        {
            "name": "activesupport",
            "installed_version": "6.0.2.1",
            "fixed_version": "6.0.3.1, 5.2.4.3",
            "status": "fixed",
            "fixable": True,
            "target": "Ruby",
            "class": "lang-pkgs",
            "type": "gemspec",
            "path": None,
        }
    ]


def test_hide_unfixed_counts(run: RunRecord) -> None:
    document = json_report(run, hide_unfixed=True)
    app = image_entry(document, "ghcr.io/example/app:1.4")

    assert document["filters"] == {"severities": ["CRITICAL", "HIGH"], "hide_unfixed": True}
    assert app["severity_counts"]["CRITICAL"] == 1
    assert app["severity_counts"]["HIGH"] == 2
    assert [f["id"] for f in app["findings"]] == ["CVE-2000-0009", "CVE-2000-0010", "CVE-2020-8165"]


def test_table_counts_with_fixable(run: RunRecord) -> None:
    line = summary_line(table_text(run), "ghcr.io/example/app:1.4")

    assert "2 (1 fixable)" in line
    assert "6 (2 fixable)" in line


def test_table_footer_and_problems(run: RunRecord) -> None:
    text = table_text(run)

    assert (
        "Trivy 0.76.0, vulnerability DB updated 2026-11-28 06:00 UTC (3 days old at the end of the run)."
        in text
    )
    assert "Total over 2 scanned of 4 images: 2 (1 fixable) Critical, 6 (2 fixable) High" in text
    assert "2 images have no result, so the totals are incomplete" in text
    assert "SECRET_KEY is not set: secret key required" in text
    assert "alpine 3.19.1 is past its end of life" in text


def test_table_keeps_brackets_literal() -> None:
    scan = ImageScan(
        image="example/[bold]app:1",
        status=ScanStatus.FAILED,
        failure=FailureClass.DB_CORRUPT,
        reason="db_corrupt: WARN [vulndb] Trivy DB may be corrupted",
    )
    run = RunRecord(command="scan", started_at=datetime(2026, 12, 1, tzinfo=UTC), images=[scan])

    text = table_text(run)

    assert "example/[bold]app:1" in text
    assert "[vulndb]" in text


def test_table_vendor_note(run: RunRecord) -> None:
    text = table_text(run, severities=SEVERITIES)

    assert "HIGH (NVD: CRITICAL)" in text
    assert "LOW (NVD: HIGH)" in text


def test_scanner_from_images_without_run_scanner() -> None:
    run = make_run()
    run.scanner = None

    document = json_report(run)
    markdown = render_markdown(run)

    assert document["scanner"] == {
        "trivy_version": "0.76.0",
        "db_updated_at": None,
        "db_age_days": None,
    }
    assert "Trivy 0.76.0, vulnerability DB date unknown" in markdown


def test_mixed_trivy_versions_listed() -> None:
    run = make_run()
    run.scanner = None
    findings = cache_findings().model_copy(update={"trivy_version": "0.55.2"})
    run.images[1] = run.images[1].model_copy(update={"findings": findings})

    assert json_report(run)["scanner"]["trivy_version"] == "0.55.2, 0.76.0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a | b", r"a \| b"),
        ("user_provided *x*", r"user\_provided \*x\*"),
        ("line one\nline two", "line one line two"),
        ("<script>", r"\<script\>"),
    ],
)
def test_markdown_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_markdown_lists_findings_with_fixed_versions(run: RunRecord) -> None:
    text = render_markdown(run)

    assert "# hullcheck report" in text
    assert (
        "| CRITICAL | [CVE-2000-0009](<https://avd.aquasec.com/nvd/cve-2000-0009>) | e | 1 | 2 | fixed |"
        in text
    )
    assert (
        "| HIGH (NVD: CRITICAL) | CVE-2020-8165 | activesupport | 6.0.2.1 | 6.0.3.1, 5.2.4.3 | fixed |"
        in text
    )
    assert "CVE-2000-0002" not in text
    assert "e: overflow in a \\| b parser" in text
    assert (
        "- SECRET\\_KEY is not set: secret key required (/srv/home/compose.yaml, service app)"
        in text
    )
