"""Rows of the notification tables: what was last notified, and each delivery attempt.

The storage layer keeps these values opaque: the notification package decides what a kind
and a subject mean and what the JSON value holds. Callers pass redacted target URLs only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from hullcheck.storage.rows import decode_time, encode_time


class NotificationStateEntry(BaseModel):
    """One remembered fact, such as the vulnerability IDs last notified for a service."""

    model_config = ConfigDict(frozen=True)

    kind: str
    subject: str
    value: Any
    """Any JSON value."""
    run_id: int | None = None
    """The run whose notification stored this value; None when the run was deleted."""
    updated_at: datetime


class DeliveryRecord(BaseModel):
    """One attempt to deliver a notification to one target."""

    model_config = ConfigDict(frozen=True)

    run_id: int | None = None
    """None for a test message, which belongs to no run."""
    sent_at: datetime
    target: str
    """The redacted URL of the target."""
    channel: str
    """``discord`` or the Apprise service name."""
    success: bool
    messages: int = 0
    """Number of messages the target accepted."""
    error: str | None = None
    """Reason the delivery failed, already redacted."""


def load_state(
    connection: sqlite3.Connection, kinds: Iterable[str] | None = None
) -> list[NotificationStateEntry]:
    sql = "SELECT kind, subject, value, run_id, updated_at FROM notification_state"
    parameters: list[str] = []
    if kinds is not None:
        parameters = list(kinds)
        if not parameters:
            return []
        sql += f" WHERE kind IN ({', '.join('?' for _ in parameters)})"
    rows = connection.execute(sql + " ORDER BY kind, subject", parameters).fetchall()
    return [
        NotificationStateEntry(
            kind=row["kind"],
            subject=row["subject"],
            value=json.loads(row["value"]),
            run_id=row["run_id"],
            updated_at=decode_time(row["updated_at"]),
        )
        for row in rows
    ]


def upsert_state(connection: sqlite3.Connection, entries: Iterable[NotificationStateEntry]) -> None:
    connection.executemany(
        "INSERT INTO notification_state (kind, subject, value, run_id, updated_at)"
        " VALUES (:kind, :subject, :value, :run_id, :updated_at)"
        " ON CONFLICT (kind, subject) DO UPDATE SET value = excluded.value,"
        " run_id = excluded.run_id, updated_at = excluded.updated_at",
        [
            {
                "kind": entry.kind,
                "subject": entry.subject,
                "value": json.dumps(entry.value, sort_keys=True),
                "run_id": entry.run_id,
                "updated_at": encode_time(entry.updated_at),
            }
            for entry in entries
        ],
    )


def insert_deliveries(connection: sqlite3.Connection, records: Iterable[DeliveryRecord]) -> None:
    connection.executemany(
        "INSERT INTO notification_deliveries"
        " (run_id, sent_at, target, channel, success, messages, error)"
        " VALUES (:run_id, :sent_at, :target, :channel, :success, :messages, :error)",
        [
            {
                "run_id": record.run_id,
                "sent_at": encode_time(record.sent_at),
                "target": record.target,
                "channel": record.channel,
                "success": int(record.success),
                "messages": record.messages,
                "error": record.error,
            }
            for record in records
        ],
    )


def load_deliveries(connection: sqlite3.Connection, run_id: int | None) -> list[DeliveryRecord]:
    sql = (
        "SELECT run_id, sent_at, target, channel, success, messages, error"
        " FROM notification_deliveries"
    )
    parameters: tuple[int, ...] = ()
    if run_id is not None:
        sql += " WHERE run_id = ?"
        parameters = (run_id,)
    rows = connection.execute(sql + " ORDER BY id", parameters).fetchall()
    return [
        DeliveryRecord(
            run_id=row["run_id"],
            sent_at=decode_time(row["sent_at"]),
            target=row["target"],
            channel=row["channel"],
            success=bool(row["success"]),
            messages=row["messages"],
            error=row["error"],
        )
        for row in rows
    ]
