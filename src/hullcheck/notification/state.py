"""Comparison of a run with what was last notified, and the rule for when to send.

The state is stored per subject, not per run, so runs over different projects do not look
like changes of each other. A subject is a service (``service:project/name``) or, for an
image no service uses, the image (``image:reference``). Only CRITICAL, HIGH and
known-exploited vulnerability IDs are remembered, because the message reports only those.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hullcheck.analysis.models import Severity
from hullcheck.deployment.models import UpdateAction
from hullcheck.notification.events import UpdateKind, classify, digest_events, service_name
from hullcheck.notification.models import DigestEvent, NewTagEvent, NotifyOn, NotifyWhen
from hullcheck.notification.priority import NOTIFIED_SEVERITIES
from hullcheck.run import RunRecord
from hullcheck.scanning.models import ImageScan, ScanStatus
from hullcheck.storage.notifications import NotificationStateEntry

FINDINGS = "findings"
"""Subject -> {vulnerability ID: {"severity": ..., "kev": bool}} last notified."""
SCAN = "scan"
"""Subject -> scan status (``scanned``, ``nothing_analysed`` or ``failed: <class>``)."""
OUTCOME = "outcome"
"""``project/service`` -> update action last notified."""
DIGEST = "digest"
"""``project/service`` -> the remote digest last notified for the tag the service uses."""
TAG = "tag"
"""Repository -> sorted list of new tags already notified."""

STATE_KINDS = (FINDINGS, SCAN, OUTCOME, DIGEST, TAG)


@dataclass
class Observation:
    """The run in the terms of the stored state, after the ``notify_on`` filter."""

    findings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    scans: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    digest_events: list[DigestEvent] = field(default_factory=list)
    tag_events: list[NewTagEvent] = field(default_factory=list)


@dataclass(frozen=True)
class News:
    """The parts of a run that no earlier notification contained."""

    new_critical: tuple[tuple[str, str], ...] = ()
    """(subject, vulnerability ID) pairs."""
    new_known_exploited: tuple[tuple[str, str], ...] = ()
    changed_findings: tuple[str, ...] = ()
    changed_scans: tuple[str, ...] = ()
    changed_outcomes: tuple[str, ...] = ()
    digest_events: tuple[DigestEvent, ...] = ()
    tag_events: tuple[NewTagEvent, ...] = ()

    @property
    def critical(self) -> bool:
        return bool(self.new_critical or self.new_known_exploited)

    @property
    def changed(self) -> bool:
        return bool(
            self.critical
            or self.changed_findings
            or self.changed_scans
            or self.changed_outcomes
            or self.digest_events
            or self.tag_events
        )


@dataclass
class StoredState:
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Kind -> subject -> JSON value."""

    @classmethod
    def from_entries(cls, entries: Iterable[NotificationStateEntry]) -> StoredState:
        state = cls()
        for entry in entries:
            state.values.setdefault(entry.kind, {})[entry.subject] = entry.value
        return state

    def get(self, kind: str, subject: str) -> Any:
        return self.values.get(kind, {}).get(subject)


def subject_label(subject: str) -> str:
    """Return the name to show for a subject: the service or the image."""
    return subject.partition(":")[2] or subject


def observe(
    run: RunRecord,
    *,
    known_exploited: frozenset[str] = frozenset(),
    new_tags: Sequence[NewTagEvent] = (),
    notify_on: NotifyOn = NotifyOn.BOTH,
) -> Observation:
    observation = Observation()
    for subject, scan in current_scans(run).items():
        observation.scans[subject] = _scan_status(scan)
        if scan.status is not ScanStatus.FAILED and scan.findings is not None:
            observation.findings[subject] = _finding_map(scan, known_exploited)

    for update in run.updates:
        name = service_name(update)
        kind = classify(update)
        if kind is UpdateKind.NEW_DIGEST and not notify_on.digests:
            continue
        observation.outcomes[name] = update.action.value
        if update.remote_digest and kind in (UpdateKind.NEW_DIGEST, UpdateKind.TAKEN):
            observation.digests[name] = update.remote_digest

    if notify_on.digests:
        observation.digest_events = digest_events(run.updates)
    if notify_on.tags:
        observation.tag_events = list(new_tags)
    return observation


def current_scans(run: RunRecord) -> dict[str, ImageScan]:
    """Map each subject to the scan of the image it runs after this run."""
    subjects: dict[str, ImageScan] = {}
    if run.updates:
        by_id = {scan.image_id: scan for scan in run.images if scan.image_id}
        for update in run.updates:
            updated = update.action is UpdateAction.UPDATED
            image_id = update.candidate_image_id if updated else update.running_image_id
            scan = by_id.get(image_id) if image_id else None
            if scan is not None:
                subjects[f"service:{service_name(update)}"] = scan
        return subjects
    for scan in run.images:
        names = [f"service:{name}" for name in scan.services] or [f"image:{scan.image}"]
        for name in names:
            subjects[name] = scan
    return subjects


def compare(observation: Observation, stored: StoredState) -> News:
    new_critical: list[tuple[str, str]] = []
    new_exploited: list[tuple[str, str]] = []
    changed_findings: list[str] = []
    for subject, current in observation.findings.items():
        before: dict[str, Any] = stored.get(FINDINGS, subject) or {}
        if current != before or stored.get(FINDINGS, subject) is None:
            changed_findings.append(subject)
        for identifier, facts in current.items():
            previous = before.get(identifier) or {}
            critical = Severity.CRITICAL.value
            if facts["severity"] == critical and previous.get("severity") != critical:
                new_critical.append((subject, identifier))
            if facts["kev"] and not previous.get("kev"):
                new_exploited.append((subject, identifier))

    changed_scans = [
        subject
        for subject, status in observation.scans.items()
        if stored.get(SCAN, subject) != status
    ]
    changed_outcomes = [
        name for name, action in observation.outcomes.items() if stored.get(OUTCOME, name) != action
    ]
    digests = [
        event
        for event in observation.digest_events
        if stored.get(DIGEST, event.service) != event.digest
    ]
    tags = [
        event
        for event in observation.tag_events
        if event.new_tag not in (stored.get(TAG, event.image) or [])
    ]
    return News(
        new_critical=tuple(new_critical),
        new_known_exploited=tuple(new_exploited),
        changed_findings=tuple(changed_findings),
        changed_scans=tuple(changed_scans),
        changed_outcomes=tuple(changed_outcomes),
        digest_events=tuple(digests),
        tag_events=tuple(_unique_tags(tags)),
    )


def should_notify(when: NotifyWhen, news: News) -> tuple[bool, str]:
    """Decide whether to send, and return the reason as text for a log line."""
    if when is NotifyWhen.ALWAYS:
        return True, "notify when: always"
    if when is NotifyWhen.NEW_CRITICAL:
        if news.critical:
            count = len({identifier for _, identifier in news.new_critical})
            exploited = len({identifier for _, identifier in news.new_known_exploited})
            return True, f"{count} new CRITICAL and {exploited} new known-exploited IDs"
        return False, "no new CRITICAL or known-exploited vulnerability since the last notification"
    if news.changed:
        return True, "results differ from the last notification"
    return False, "nothing changed since the last notification"


def state_entries(
    observation: Observation, stored: StoredState, *, run_id: int | None, now: datetime
) -> list[NotificationStateEntry]:
    """Return the entries that record ``observation`` as notified."""
    entries: list[NotificationStateEntry] = []

    def add(kind: str, subject: str, value: Any) -> None:
        entries.append(
            NotificationStateEntry(
                kind=kind, subject=subject, value=value, run_id=run_id, updated_at=now
            )
        )

    for subject, findings in observation.findings.items():
        add(FINDINGS, subject, findings)
    for subject, status in observation.scans.items():
        add(SCAN, subject, status)
    for name, action in observation.outcomes.items():
        add(OUTCOME, name, action)
    for name, digest in observation.digests.items():
        add(DIGEST, name, digest)
    tags: dict[str, set[str]] = {}
    for event in observation.tag_events:
        known = tags.setdefault(event.image, set(stored.get(TAG, event.image) or []))
        known.add(event.new_tag)
    for image, names in tags.items():
        add(TAG, image, sorted(names))
    return entries


def _scan_status(scan: ImageScan) -> str:
    if scan.status is ScanStatus.FAILED:
        return f"failed: {scan.failure.value if scan.failure else 'unknown'}"
    return scan.status.value


def _finding_map(scan: ImageScan, known_exploited: frozenset[str]) -> dict[str, dict[str, Any]]:
    assert scan.findings is not None
    found: dict[str, dict[str, Any]] = {}
    for finding in scan.findings.findings:
        identifier = finding.vulnerability_id
        exploited = identifier in known_exploited
        if finding.severity not in NOTIFIED_SEVERITIES and not exploited:
            continue
        previous = found.get(identifier)
        if previous is None or Severity(previous["severity"]).rank < finding.severity.rank:
            found[identifier] = {"severity": finding.severity.value, "kev": exploited}
    return found


def _unique_tags(events: list[NewTagEvent]) -> list[NewTagEvent]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for event in events:
        key = (event.image, event.new_tag)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique
