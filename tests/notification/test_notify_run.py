"""When a run is notified, and what the history remembers across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notification_lab import RecordedSleep, Reply, WebhookServer, closed_port
from notification_runs import (
    DIGEST_1,
    DIGEST_2,
    FINISHED,
    STARTED,
    digest_run,
    failed,
    finding,
    scanned,
)

from hullcheck.analysis.models import Severity
from hullcheck.notification import (
    Deliverer,
    DiscordOptions,
    NewTagEvent,
    NotifyOn,
    NotifySettings,
    NotifyWhen,
    notify_run,
)
from hullcheck.notification.models import NotificationError
from hullcheck.run import RunRecord, RunStatus
from hullcheck.storage import HistoryStore

TAG_4_31 = NewTagEvent("docker.io/example/app", "4.30", "4.31", ("stack/app",))
TAG_4_32 = NewTagEvent("docker.io/example/app", "4.30", "4.32", ("stack/app",))


@pytest.fixture
def receiver() -> Iterator[WebhookServer]:
    server = WebhookServer(default=Reply(200)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def _settings(
    receiver: WebhookServer,
    when: NotifyWhen = NotifyWhen.ON_CHANGE,
    notify_on: NotifyOn = NotifyOn.BOTH,
) -> NotifySettings:
    return NotifySettings(
        urls=(f"json://127.0.0.1:{receiver.port}/hook",), when=when, notify_on=notify_on
    )


def _scan(*findings: tuple[str, Severity], failed_scan: bool = False) -> RunRecord:
    image = "docker.io/example/app:4.30"
    if failed_scan:
        scan = failed(image, "scan failed (timeout)", services=("stack/app",))
    else:
        scan = scanned(
            image,
            [finding(identifier, severity) for identifier, severity in findings],
            services=("stack/app",),
        )
    return RunRecord(
        command="scan",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.COMPLETE,
        images=[scan],
    )


def _notify(
    history: Path, run: RunRecord, settings: NotifySettings, **options: object
) -> tuple[bool, str]:
    """Store the run and notify it with a freshly opened store, as a new process would."""
    with HistoryStore.open(history) as store:
        run.run_id = store.begin_run(run)
        store.finish_run(run.run_id, run.status, scanner=None)
        outcome = notify_run(run, settings, store=store, **options)  # type: ignore[arg-type]
    return outcome.sent, outcome.reason


def _sent_texts(receiver: WebhookServer) -> list[str]:
    return [request.json()["message"] for request in receiver.requests]


def test_always_sends_every_run(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver, NotifyWhen.ALWAYS)
    run = _scan(("CVE-2024-0001", Severity.HIGH))

    assert _notify(history, run, settings)[0]
    assert _notify(history, run.model_copy(), settings)[0]
    assert len(receiver.requests) == 2


def test_on_change_survives_restart(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver)

    first = _notify(history, _scan(("CVE-2024-0001", Severity.HIGH)), settings)
    same = _notify(history, _scan(("CVE-2024-0001", Severity.HIGH)), settings)
    changed = _notify(history, _scan(("CVE-2024-0002", Severity.HIGH)), settings)

    assert first[0]
    assert same == (False, "nothing changed since the last notification")
    assert changed[0]
    assert len(receiver.requests) == 2
    assert "Findings changed: stack/app" in _sent_texts(receiver)[1]


def test_on_change_ignores_medium(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver)

    _notify(history, _scan(("CVE-2024-0001", Severity.HIGH)), settings)
    medium_added = _notify(
        history,
        _scan(("CVE-2024-0001", Severity.HIGH), ("CVE-2024-0003", Severity.MEDIUM)),
        settings,
    )

    assert not medium_added[0]


def test_failed_scan_keeps_known_findings(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver)
    critical = ("CVE-2024-0009", Severity.CRITICAL)

    _notify(history, _scan(critical), settings)
    failure = _notify(history, _scan(failed_scan=True), settings)
    recovered = _notify(history, _scan(critical), settings)

    assert failure[0], "a scan that starts failing is a change"
    assert recovered[0], "a scan that works again is a change"
    assert "New CRITICAL" not in _sent_texts(receiver)[2]


def test_new_critical_only(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver, NotifyWhen.NEW_CRITICAL)

    first = _notify(history, _scan(("CVE-2024-0009", Severity.CRITICAL)), settings)
    high_added = _notify(
        history,
        _scan(("CVE-2024-0009", Severity.CRITICAL), ("CVE-2024-0001", Severity.HIGH)),
        settings,
    )
    critical_added = _notify(
        history,
        _scan(("CVE-2024-0009", Severity.CRITICAL), ("CVE-2024-0010", Severity.CRITICAL)),
        settings,
    )

    assert first[0]
    assert high_added[0] is False
    assert critical_added[0]
    assert "New CRITICAL: CVE-2024-0010 in stack/app" in _sent_texts(receiver)[1]


def test_new_critical_known_exploited(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver, NotifyWhen.NEW_CRITICAL)
    run = _scan(("CVE-2024-0009", Severity.CRITICAL), ("CVE-2024-0004", Severity.MEDIUM))

    _notify(history, run, settings)
    plain = _notify(history, run.model_copy(), settings)
    exploited = _notify(
        history, run.model_copy(), settings, known_exploited=frozenset({"CVE-2024-0004"})
    )

    assert plain[0] is False
    assert exploited[0]
    assert "New known-exploited: CVE-2024-0004 in stack/app" in _sent_texts(receiver)[1]


def test_digest_and_tag_both_notified(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver)

    sent = _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_31])

    assert sent[0]
    text = _sent_texts(receiver)[0]
    assert "New digest for an existing tag:" in text
    assert f"tag 4.30 now resolves to {DIGEST_2}" in text
    assert "New tag available:" in text
    assert "new tag 4.31 (in use: 4.30)" in text


def test_tag_filter_ignores_digests(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver, notify_on=NotifyOn.TAG)

    first = _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_31])
    rebuilt = _notify(history, digest_run(DIGEST_1), settings, new_tags=[TAG_4_31])
    newer = _notify(history, digest_run(DIGEST_1), settings, new_tags=[TAG_4_31, TAG_4_32])

    assert first[0]
    assert rebuilt[0] is False, "a rebuilt digest of the same tag is filtered out"
    assert newer[0]
    texts = _sent_texts(receiver)
    assert "4.31" in texts[0]
    assert DIGEST_2 not in texts[0]
    assert "new tag 4.32" in texts[1]
    assert "new tag 4.31" not in texts[1], "a tag already notified is not repeated"


def test_digest_filter_ignores_tags(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver, notify_on=NotifyOn.DIGEST)

    first = _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_31])
    new_tag_only = _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_32])
    new_digest = _notify(history, digest_run(DIGEST_1), settings, new_tags=[TAG_4_32])

    assert first[0]
    assert new_tag_only[0] is False
    assert new_digest[0]
    assert "4.31" not in _sent_texts(receiver)[0]
    assert DIGEST_1 in _sent_texts(receiver)[1]


def test_digest_state_survives_restart(receiver: WebhookServer, history: Path) -> None:
    settings = _settings(receiver)

    _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_31])
    again = _notify(history, digest_run(DIGEST_2), settings, new_tags=[TAG_4_31])

    assert again == (False, "nothing changed since the last notification")
    with HistoryStore.open(history) as store:
        state = {(e.kind, e.subject): e.value for e in store.load_notification_state()}
    assert state[("digest", "stack/app")] == DIGEST_2
    assert state[("tag", "docker.io/example/app")] == ["4.31"]


def test_failed_delivery_keeps_news(receiver: WebhookServer, history: Path) -> None:
    down = NotifySettings(urls=(f"json://127.0.0.1:{closed_port()}/hook",))
    settings = _settings(receiver)
    run = _scan(("CVE-2024-0001", Severity.HIGH))

    with HistoryStore.open(history) as store:
        run.run_id = store.begin_run(run)
        store.finish_run(run.run_id, run.status, scanner=None)
        outcome = notify_run(run, down, store=store)
        deliveries = store.load_deliveries(run.run_id)
        state = store.load_notification_state()

    assert outcome.sent
    assert [result.success for result in outcome.failed] == [False]
    assert [record.success for record in deliveries] == [False]
    assert deliveries[0].error
    assert state == [], "nothing was delivered, so nothing counts as notified"
    assert _notify(history, run.model_copy(), settings)[0]


def test_deliveries_recorded_per_target(receiver: WebhookServer, history: Path) -> None:
    discord = WebhookServer().start()
    try:
        settings = NotifySettings(
            urls=(f"json://127.0.0.1:{receiver.port}/hook", "discord://123456789/Tok3n_abcdef"),
            when=NotifyWhen.ALWAYS,
        )
        deliverer = Deliverer(DiscordOptions(api_base=discord.base_url), sleep=RecordedSleep())
        _notify(history, _scan(), settings, deliverer=deliverer)
    finally:
        discord.stop()

    with HistoryStore.open(history) as store:
        deliveries = store.load_deliveries()
    assert [(d.channel, d.success, d.messages) for d in deliveries] == [
        ("JSON", True, 1),
        ("discord", True, 1),
    ]
    assert deliveries[1].target == "discord://123456789/***"


def test_no_urls_sends_nothing() -> None:
    outcome = notify_run(_scan(), NotifySettings())

    assert not outcome.sent
    assert outcome.reason == "no notification URL is configured"


def test_settings_from_values() -> None:
    settings = NotifySettings.from_values(
        ["json://127.0.0.1:1/a, form://127.0.0.1:2/b", "json://127.0.0.1:3/c"],
        "new-critical",
        "tag",
        environ={"HULLCHECK_DISCORD_API_BASE": "http://127.0.0.1:9"},
    )

    assert settings.urls == (
        "json://127.0.0.1:1/a",
        "form://127.0.0.1:2/b",
        "json://127.0.0.1:3/c",
    )
    assert settings.when is NotifyWhen.NEW_CRITICAL
    assert settings.notify_on is NotifyOn.TAG
    assert settings.discord.api_base == "http://127.0.0.1:9"


def test_settings_reject_unknown_value() -> None:
    with pytest.raises(NotificationError) as raised:
        NotifySettings.from_values([], notify_on="new")

    assert "invalid notify_on value 'new'" in str(raised.value)
    assert "digest, tag, both" in str(raised.value)
