"""Build the notification message of a scan or update run.

A failed image or check is listed with its reason and never counted as "0 findings".
Sections come in order of urgency, because a long message is paged and the first page is
the one people read.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from hullcheck.deployment.models import ServiceUpdate, UpdateAction
from hullcheck.notification.events import UpdateKind, classify, service_name
from hullcheck.notification.models import (
    Item,
    Level,
    NewTagEvent,
    NotificationMessage,
    NotifyOn,
    Section,
)
from hullcheck.notification.priority import (
    PriorityKey,
    RankedFinding,
    rank_findings,
    severity_priority,
)
from hullcheck.notification.state import News, current_scans, subject_label
from hullcheck.reporting.view import ImageRow, ReportView, build_view, count_text, totals_text
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ScanStatus

DEFAULT_TOP_FINDINGS = 10

_ACTION_LABELS = {
    UpdateAction.UPDATED: "updated",
    UpdateAction.HELD: "held",
    UpdateAction.ROLLED_BACK: "rolled back",
    UpdateAction.UP_TO_DATE: "up to date",
    UpdateAction.PINNED: "pinned",
    UpdateAction.LOCAL_BUILD: "locally built",
    UpdateAction.FAILED: "failed",
    UpdateAction.SKIPPED: "skipped",
}


def build_message(
    run: RunRecord,
    *,
    report_location: str | None = None,
    new_tags: Sequence[NewTagEvent] = (),
    notify_on: NotifyOn = NotifyOn.BOTH,
    known_exploited: frozenset[str] = frozenset(),
    news: News | None = None,
    sort_key: PriorityKey = severity_priority,
    top_limit: int = DEFAULT_TOP_FINDINGS,
) -> NotificationMessage:
    """Describe ``run`` for a notification.

    ``new_tags`` are tags newer than the ones in use, found outside the run. ``notify_on``
    keeps or drops "same tag, new digest" and "new tag" news. ``news`` adds a section on
    what changed since the last notification. ``sort_key`` orders the top findings.
    """
    view = build_view(run)
    updates = list(run.updates)
    sections = [
        _changes_section(news),
        _updates_section(updates),
        _digest_section(updates) if notify_on.digests else None,
        _tag_section(new_tags) if notify_on.tags else None,
        _failures_section(run, view, updates),
        _top_section(run, sort_key, known_exploited, top_limit),
        _images_section(view),
    ]
    return NotificationMessage(
        title=_title(run, view),
        summary=tuple(_summary(run, view, updates, notify_on)),
        sections=tuple(section for section in sections if section is not None),
        level=_level(run, view, news),
        report_location=report_location,
        run_id=run.run_id,
    )


def build_test_message(now: datetime | None = None) -> NotificationMessage:
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return NotificationMessage(
        title="hullcheck test notification",
        summary=(
            f"Test message sent by hullcheck on {socket.gethostname()} at {moment}.",
            "When this arrives, hullcheck can deliver notifications to this target.",
        ),
    )


def _title(run: RunRecord, view: ReportView) -> str:
    name = f"hullcheck {run.command}" + (f" run {run.run_id}" if run.run_id is not None else "")
    if run.updates:
        actions = Counter(update.action for update in run.updates)
        parts = [
            f"{actions[action]} {_ACTION_LABELS[action]}"
            for action in (UpdateAction.UPDATED, UpdateAction.FAILED, UpdateAction.ROLLED_BACK)
            if actions[action]
        ]
        return f"{name}: {', '.join(parts) or 'nothing updated'}"
    failed = view.count(ScanStatus.FAILED)
    headline = (
        f"{view.totals.CRITICAL} Critical, {view.totals.HIGH} High in {len(view.rows)} images"
    )
    if failed:
        headline += f", {failed} failed"
    return f"{name}: {headline}"


def _summary(
    run: RunRecord, view: ReportView, updates: list[ServiceUpdate], notify_on: NotifyOn
) -> list[str]:
    lines = []
    if run.status is not RunStatus.COMPLETE:
        lines.append(f"Run status: {run.status.value}.")
    if updates:
        actions = Counter(update.action for update in updates)
        counted = ", ".join(
            f"{count} {_ACTION_LABELS[action]}" for action, count in actions.most_common()
        )
        lines.append(f"Services: {counted}.")
    if view.rows:
        parts = [f"{view.count(ScanStatus.SCANNED)} scanned"]
        if failed := view.count(ScanStatus.FAILED):
            parts.append(f"{failed} failed")
        if nothing := view.count(ScanStatus.NOTHING_ANALYSED):
            parts.append(f"{nothing} nothing analysed")
        lines.append(f"Images: {len(view.rows)} ({', '.join(parts)}).")
        lines.append(totals_text(view))
    elif not updates:
        lines.append("No images were scanned.")
    limited = _rate_limited_images(updates)
    if limited:
        subject = "1 image was" if len(limited) == 1 else f"{len(limited)} images were"
        lines.append(f"{subject} not checked because of a Docker Hub rate limit.")
    if notify_on is not NotifyOn.BOTH:
        shown = "new digests of existing tags" if notify_on.digests else "new tags"
        lines.append(f"Update news filter: only {shown} (notify_on={notify_on.value}).")
    return lines


def _level(run: RunRecord, view: ReportView, news: News | None) -> Level:
    failed_updates = any(
        update.action in (UpdateAction.FAILED, UpdateAction.ROLLED_BACK) for update in run.updates
    )
    if run.status is not RunStatus.COMPLETE or view.count(ScanStatus.FAILED) or failed_updates:
        return Level.FAILURE
    escalated = any(update.escalations for update in run.updates)
    if view.totals.CRITICAL or escalated or (news is not None and news.critical):
        return Level.WARNING
    return Level.INFO


def _changes_section(news: News | None) -> Section | None:
    if news is None or not news.changed:
        return None
    items = []
    if news.new_critical:
        items.append(Item("New CRITICAL", _pairs_text(news.new_critical)))
    if news.new_known_exploited:
        items.append(Item("New known-exploited", _pairs_text(news.new_known_exploited)))
    groups = (
        ("Findings changed", news.changed_findings),
        ("Scan result changed", news.changed_scans),
        ("Update outcome changed", news.changed_outcomes),
    )
    for name, subjects in groups:
        if subjects:
            items.append(Item(name, ", ".join(subject_label(subject) for subject in subjects)))
    if news.digest_events:
        items.append(Item("New digests", f"{len(news.digest_events)} not notified before"))
    if news.tag_events:
        items.append(Item("New tags", f"{len(news.tag_events)} not notified before"))
    return Section("changes", "Since the last notification", tuple(items))


def _pairs_text(pairs: tuple[tuple[str, str], ...]) -> str:
    by_id: dict[str, list[str]] = {}
    for subject, identifier in pairs:
        by_id.setdefault(identifier, []).append(subject_label(subject))
    return "\n".join(f"{identifier} in {', '.join(names)}" for identifier, names in by_id.items())


def _updates_section(updates: list[ServiceUpdate]) -> Section | None:
    taken = [update for update in updates if classify(update) is UpdateKind.TAKEN]
    quiet = Counter(update.action for update in updates if classify(update) is UpdateKind.QUIET)
    if not taken and not quiet:
        return None
    notes: tuple[str, ...] = ()
    if quiet:
        counted = ", ".join(f"{count} {_ACTION_LABELS[a]}" for a, count in quiet.most_common())
        notes = (f"Not listed: {counted}.",)
    items = tuple(Item(service_name(update), _update_text(update)) for update in taken)
    return Section("updates", "Update results", items, notes)


def _update_text(update: ServiceUpdate) -> str:
    label = _ACTION_LABELS[update.action]
    reason = update.reason
    if update.action is UpdateAction.FAILED:
        # The updater's reason starts with "update failed, kept the running version" when
        # the old container still runs; it is the most useful first line then.
        label, reason = (
            (reason, "") if reason.startswith("update failed") else ("update failed", reason)
        )
    lines = [label + _delta_text(update)]
    if update.image:
        lines.append(f"image: {update.image}")
    if reason:
        lines.append(reason)
    if update.escalations:
        lines.append("ATTENTION: " + "; ".join(update.escalations))
    return "\n".join(lines)


def _delta_text(update: ServiceUpdate) -> str:
    delta = update.delta
    if delta is None:
        return ""
    return f" (fixed {len(delta.fixed)}, new {len(delta.new)}, open {len(delta.open)})"


def _digest_section(updates: list[ServiceUpdate]) -> Section | None:
    changed = [update for update in updates if classify(update) is UpdateKind.NEW_DIGEST]
    if not changed:
        return None
    items = []
    for update in changed:
        image = update.image or "unknown image"
        tag = _tag_of(image)
        lines = [f"tag {tag} now resolves to {update.remote_digest}" + _delta_text(update)]
        lines.append(f"image: {image}")
        lines.append(f"{_ACTION_LABELS[update.action]}: {update.reason}")
        if update.escalations:
            lines.append("ATTENTION: " + "; ".join(update.escalations))
        items.append(Item(service_name(update), "\n".join(lines)))
    return Section("digests", "New digest for an existing tag", tuple(items))


def _tag_of(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _tag_section(events: Sequence[NewTagEvent]) -> Section | None:
    if not events:
        return None
    items = []
    for event in events:
        lines = [f"new tag {event.new_tag} (in use: {event.current_tag})"]
        if event.services:
            lines.append("used by " + ", ".join(event.services))
        items.append(Item(event.image, "\n".join(lines)))
    return Section("tags", "New tag available", tuple(items))


def _failures_section(
    run: RunRecord, view: ReportView, updates: list[ServiceUpdate]
) -> Section | None:
    items = []
    if run.error:
        items.append(Item("Run error", run.error))
    for row in view.rows:
        if row.scan.status is ScanStatus.FAILED:
            items.append(Item(row.scan.image, _with_services(row.status_text, row)))
    for update in updates:
        if classify(update) is UpdateKind.CHECK_FAILED:
            text = f"{update.reason}\nimage: {update.image or 'unknown image'}"
            items.append(Item(service_name(update), text))
    limited = _rate_limited_images(updates)
    if limited:
        items.append(
            Item(
                "Docker Hub rate limit",
                f"{len(limited)} images not checked: " + ", ".join(limited),
            )
        )
    for problem in run.problems:
        name = problem.service or (problem.file.name if problem.file else problem.kind.value)
        items.append(Item(f"Problem: {name}", problem.message))
    if not items:
        return None
    return Section("failures", "Failures and problems", tuple(items))


def _with_services(text: str, row: ImageRow) -> str:
    if not row.scan.services:
        return text
    return f"{text}\nused by {', '.join(row.scan.services)}"


def _rate_limited_images(updates: list[ServiceUpdate]) -> list[str]:
    images: list[str] = []
    for update in updates:
        if classify(update) is UpdateKind.RATE_LIMITED:
            image = update.image or service_name(update)
            if image not in images:
                images.append(image)
    return images


def _top_section(
    run: RunRecord, sort_key: PriorityKey, known_exploited: frozenset[str], limit: int
) -> Section | None:
    # After an update run the candidate replaces the running image of an updated service,
    # so only the images the services run now are ranked.
    scans = {id(scan): scan for scan in current_scans(run).values()}
    ranked = rank_findings(scans.values(), sort_key=sort_key, known_exploited=known_exploited)
    if not ranked:
        return None
    shown = ranked[: max(limit, 0)]
    notes: tuple[str, ...] = ()
    if len(ranked) > len(shown):
        notes = (f"...and {len(ranked) - len(shown)} more in the full report.",)
    items = tuple(Item(_finding_name(entry), _finding_text(entry)) for entry in shown)
    return Section("top", "Top findings", items, notes)


def _finding_name(entry: RankedFinding) -> str:
    finding = entry.finding
    parts = [finding.vulnerability_id, finding.severity.value]
    parts.append("fixable" if finding.fixable else "no fix yet")
    if entry.known_exploited:
        parts.append("known exploited")
    return " · ".join(parts)


def _finding_text(entry: RankedFinding) -> str:
    finding = entry.finding
    lines = []
    for package in finding.packages[:3]:
        fixed = f" -> {package.fixed_version}" if package.fixed_version else ""
        lines.append(f"{package.name} {package.installed_version or '?'}{fixed}")
    if len(finding.packages) > 3:
        lines.append(f"...and {len(finding.packages) - 3} more packages")
    images = entry.images
    where = f"in {images[0]}"
    if len(images) > 1:
        where += f" and {len(images) - 1} more images"
    lines.append(where)
    if finding.title:
        lines.append(finding.title)
    return "\n".join(lines)


def _images_section(view: ReportView) -> Section | None:
    rows = [row for row in view.rows if row.scan.status is not ScanStatus.FAILED]
    if not rows:
        return None
    items = tuple(Item(row.scan.image, _image_text(row)) for row in rows)
    notes: tuple[str, ...] = ()
    if failed := view.count(ScanStatus.FAILED):
        notes = (f"{failed} failed images are listed under failures.",)
    return Section("images", "Images", items, notes)


def _image_text(row: ImageRow) -> str:
    if not row.shows_counts or row.counts is None or row.fixable_counts is None:
        return row.status_text
    critical = count_text(row.counts.CRITICAL, row.fixable_counts.CRITICAL)
    high = count_text(row.counts.HIGH, row.fixable_counts.HIGH)
    return f"Critical {critical}, High {high}"
