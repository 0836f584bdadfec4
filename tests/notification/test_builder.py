"""The message built from a run: the contents of each section, in plain text."""

from __future__ import annotations

from notification_runs import (
    DIGEST_2,
    FINISHED,
    STARTED,
    digest_run,
    failed,
    finding,
    many_images_run,
    mixed_update_run,
    scanned,
)

from hullcheck.analysis.models import Severity
from hullcheck.notification import (
    Level,
    NewTagEvent,
    NotifyOn,
    RankedFinding,
    build_message,
    render_text,
)
from hullcheck.notification.models import NotificationMessage, Section
from hullcheck.run import RunRecord, RunStatus

TAG_EVENT = NewTagEvent("docker.io/example/app", "4.30", "4.31", ("stack/app",))


def _section(message: NotificationMessage, key: str) -> Section:
    matches = [section for section in message.sections if section.key == key]
    assert matches, f"no section {key!r} in {[s.key for s in message.sections]}"
    return matches[0]


def _scan_run(*images: object) -> RunRecord:
    return RunRecord(
        run_id=3,
        command="scan",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.PARTIAL,
        images=list(images),  # type: ignore[arg-type]
    )


def test_image_table_counts_and_fixable() -> None:
    run = _scan_run(
        scanned(
            "docker.io/library/nginx:1.25",
            [
                finding("CVE-2024-0001", Severity.CRITICAL, fixed="2"),
                finding("CVE-2024-0002", Severity.HIGH),
                finding("CVE-2024-0003", Severity.HIGH, fixed="2"),
                finding("CVE-2024-0004", Severity.MEDIUM),
            ],
        )
    )

    images = _section(build_message(run), "images")

    assert [item.name for item in images.items] == ["docker.io/library/nginx:1.25"]
    assert images.items[0].value == "Critical 1 (1 fixable), High 2 (1 fixable)"


def test_failed_image_has_reason_not_zero() -> None:
    run = _scan_run(
        scanned("docker.io/library/redis:7", []),
        failed(
            "ghcr.io/example/big:1",
            "scan failed (timeout): context deadline exceeded",
            services=("stack/big",),
        ),
    )

    message = build_message(run)
    text = render_text(message)

    failures = _section(message, "failures")
    assert failures.items[0].name == "ghcr.io/example/big:1"
    assert "context deadline exceeded" in failures.items[0].value
    assert "stack/big" in failures.items[0].value
    assert "ghcr.io/example/big:1" not in [item.name for item in _section(message, "images").items]
    big_lines = [line for line in text.splitlines() if "ghcr.io/example/big:1" in line]
    assert big_lines
    assert all("Critical 0" not in line and "High 0" not in line for line in big_lines)
    assert "1 failed" in message.title
    assert message.level is Level.FAILURE


def test_clean_image_shows_zero() -> None:
    run = _scan_run(scanned("docker.io/library/redis:7", []))

    images = _section(build_message(run), "images")

    assert images.items[0].value == "Critical 0, High 0"


def test_update_results_delta_and_escalation() -> None:
    message = build_message(mixed_update_run())

    updates = {item.name: item.value for item in _section(message, "updates").items}
    assert updates["stack/web"].startswith("updated (fixed 1, new 1, open 1)")
    assert "ATTENTION: new CRITICAL CVE-2024-2000 with a fix available" in updates["stack/web"]
    assert updates["stack/nginx"].startswith("update failed, kept the running version")
    assert "Not listed: 1 up to date, 1 locally built." in _section(message, "updates").notes


def test_failed_checks_and_rate_limit_count() -> None:
    message = build_message(mixed_update_run())

    failures = {item.name: item.value for item in _section(message, "failures").items}
    assert failures["stack/db"].startswith("check failed (auth)")
    assert failures["Docker Hub rate limit"].startswith("3 images not checked")
    assert "3 images were not checked because of a Docker Hub rate limit." in message.summary
    updates = [item.name for item in _section(message, "updates").items]
    assert "stack/cache" not in updates
    assert "stack/db" not in updates


def test_top_findings_order_and_more() -> None:
    run = _scan_run(
        scanned(
            "docker.io/example/app:1",
            [
                finding("CVE-2024-0005", Severity.HIGH, fixed="2"),
                finding("CVE-2024-0004", Severity.HIGH),
                finding("CVE-2024-0003", Severity.CRITICAL),
                finding("CVE-2024-0002", Severity.CRITICAL, fixed="2"),
                finding("CVE-2024-0001", Severity.LOW, fixed="2"),
            ],
        )
    )

    top = _section(build_message(run, top_limit=3), "top")

    names = [item.name.split(" · ")[0] for item in top.items]
    assert names == ["CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0005"]
    assert top.notes == ("...and 1 more in the full report.",)


def test_top_findings_sort_key_hook() -> None:
    run = _scan_run(
        scanned(
            "docker.io/example/app:1",
            [finding("CVE-2024-0009", Severity.CRITICAL), finding("CVE-2024-0001", Severity.HIGH)],
        )
    )

    def by_id(ranked: RankedFinding) -> str:
        return ranked.vulnerability_id

    top = _section(build_message(run, sort_key=by_id), "top")

    assert [item.name.split(" · ")[0] for item in top.items] == ["CVE-2024-0001", "CVE-2024-0009"]


def test_top_findings_known_exploited() -> None:
    run = _scan_run(scanned("docker.io/example/app:1", [finding("CVE-2024-0007", Severity.MEDIUM)]))

    top = _section(build_message(run, known_exploited=frozenset({"CVE-2024-0007"})), "top")

    assert top.items[0].name == "CVE-2024-0007 · MEDIUM · no fix yet · known exploited"


def test_top_findings_after_update_use_candidate() -> None:
    top = _section(build_message(mixed_update_run()), "top")

    names = [item.name.split(" · ")[0] for item in top.items]
    assert "CVE-2024-2000" in names
    assert "CVE-2024-1000" not in names, "the update fixed it, so it is no longer running"


def test_report_location_in_text() -> None:
    message = build_message(many_images_run(2), report_location="https://hullcheck.lan/runs/7")

    assert "Full report: https://hullcheck.lan/runs/7" in render_text(message)


def test_digest_and_tag_labelled_apart() -> None:
    message = build_message(digest_run(), new_tags=[TAG_EVENT])

    digests = _section(message, "digests")
    tags = _section(message, "tags")
    assert digests.title == "New digest for an existing tag"
    assert tags.title == "New tag available"
    assert f"tag 4.30 now resolves to {DIGEST_2}" in digests.items[0].value
    assert tags.items[0].value.startswith("new tag 4.31 (in use: 4.30)")


def test_notify_on_tag_drops_digest_news() -> None:
    message = build_message(digest_run(), new_tags=[TAG_EVENT], notify_on=NotifyOn.TAG)
    text = render_text(message)

    assert [section.key for section in message.sections if section.key in ("digests", "tags")] == [
        "tags"
    ]
    assert "4.31" in text
    assert DIGEST_2 not in text


def test_notify_on_digest_drops_tag_news() -> None:
    message = build_message(digest_run(), new_tags=[TAG_EVENT], notify_on=NotifyOn.DIGEST)
    text = render_text(message)

    assert DIGEST_2 in text
    assert "4.31" not in text


def test_exploit_priority_orders_kev_first() -> None:
    from hullcheck.analysis.models import AffectedPackage, Finding, Severity
    from hullcheck.notification.priority import RankedFinding, exploit_priority

    package = (AffectedPackage(name="p", installed_version="1"),)
    critical = Finding(
        vulnerability_id="CVE-1", severity=Severity.CRITICAL, packages=package, priority=2
    )
    kev_high = Finding(
        vulnerability_id="CVE-2", severity=Severity.HIGH, packages=package, priority=1
    )
    unranked = Finding(vulnerability_id="CVE-3", severity=Severity.CRITICAL, packages=package)

    ranked = sorted(
        (RankedFinding(finding=f, images=("x",)) for f in (critical, kev_high, unranked)),
        key=exploit_priority,
    )

    assert [r.vulnerability_id for r in ranked] == ["CVE-2", "CVE-1", "CVE-3"]
