"""Notification state and delivery rows in the history database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from notification_runs import many_images_run

from hullcheck.storage import HistoryStore
from hullcheck.storage.migrations import SCHEMA_VERSION
from hullcheck.storage.notifications import DeliveryRecord, NotificationStateEntry

NOW = datetime(2025, 3, 2, 4, 8, tzinfo=UTC)


def _entry(
    kind: str, subject: str, value: object, run_id: int | None = None
) -> NotificationStateEntry:
    return NotificationStateEntry(
        kind=kind, subject=subject, value=value, run_id=run_id, updated_at=NOW
    )


def test_state_upsert_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with HistoryStore.open(path) as store:
        run_id = store.begin_run(many_images_run(1))
        store.save_notification_state(
            [
                _entry("digest", "stack/app", "sha256:1111", run_id),
                _entry("tag", "docker.io/example/app", ["4.31"], run_id),
            ]
        )
        store.save_notification_state([_entry("digest", "stack/app", "sha256:2222", run_id)])

    with HistoryStore.open(path) as store:
        everything = store.load_notification_state()
        digests = store.load_notification_state(["digest"])
        nothing = store.load_notification_state([])

    assert [(e.kind, e.subject, e.value) for e in everything] == [
        ("digest", "stack/app", "sha256:2222"),
        ("tag", "docker.io/example/app", ["4.31"]),
    ]
    assert [e.value for e in digests] == ["sha256:2222"]
    assert everything[0].run_id == run_id
    assert everything[0].updated_at == NOW
    assert nothing == []


def test_deliveries_per_run(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "history.db") as store:
        first = store.begin_run(many_images_run(1))
        second = store.begin_run(many_images_run(1))
        store.save_deliveries(
            [
                DeliveryRecord(
                    run_id=first,
                    sent_at=NOW,
                    target="discord://1/***",
                    channel="discord",
                    success=False,
                    error="HTTP 404",
                ),
                DeliveryRecord(
                    run_id=second,
                    sent_at=NOW,
                    target="json://h/x",
                    channel="JSON",
                    success=True,
                    messages=1,
                ),
                DeliveryRecord(
                    run_id=None,
                    sent_at=NOW,
                    target="json://h/x",
                    channel="JSON",
                    success=True,
                    messages=1,
                ),
            ]
        )

        of_first = store.load_deliveries(first)
        every = store.load_deliveries()

    assert [(d.target, d.success, d.error) for d in of_first] == [
        ("discord://1/***", False, "HTTP 404")
    ]
    assert [d.run_id for d in every] == [first, second, None]


def test_schema_has_notification_tables(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    HistoryStore.open(path).close()

    connection = sqlite3.connect(path)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    connection.close()

    assert {"notification_state", "notification_deliveries"} <= tables
    assert version == SCHEMA_VERSION
