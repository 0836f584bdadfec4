"""Read-only access to the history database for the dashboard and ``hullcheck report``.

The connection opens with SQLite's ``mode=ro``, so nothing here can write the history:
no migration, no WAL switch, and runs whose process died stay "running" until a writing
hullcheck command opens the store and marks them interrupted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hullcheck.analysis.models import Severity
from hullcheck.run import RunStatus
from hullcheck.scanning.models import ScanStatus
from hullcheck.storage import HistoryStore, RunSummary, StorageError
from hullcheck.storage.migrations import SCHEMA_VERSION, check_schema
from hullcheck.storage.rows import decode_time

SEARCH_LIMIT = 500
"""Maximum rows of one findings search. The page states when more matched."""

FINISHED_STATUSES = (RunStatus.COMPLETE, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.INTERRUPTED)


@dataclass(frozen=True)
class ImageStatus:
    """The latest scan of one image reference, over every run in the history."""

    image: str
    image_id: str | None
    services: str
    status: ScanStatus
    reason: str | None
    run_id: int
    run_started_at: datetime
    position: int
    """Index of the image in its run, for the link to its drill-down."""
    critical: int
    high: int
    fixable_critical: int
    fixable_high: int


@dataclass(frozen=True)
class FindingMatch:
    run_id: int
    run_started_at: datetime
    image: str
    position: int
    vulnerability_id: str
    severity: Severity
    package: str
    installed_version: str | None
    fixed_version: str | None
    status: str | None


@dataclass(frozen=True)
class FindingQuery:
    """Substrings to match, case-insensitively for ASCII; empty ones match everything."""

    vulnerability_id: str = ""
    package: str = ""
    image: str = ""
    all_runs: bool = False
    """Search every run instead of only the latest scan of each image."""

    @property
    def is_empty(self) -> bool:
        return not (self.vulnerability_id or self.package or self.image)


class ReadOnlyHistory:
    """A read-only connection to the history, with the HistoryStore read methods."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self.store = HistoryStore(connection, path)

    def latest_images(self) -> list[ImageStatus]:
        """Return the newest scan of each image reference, images in name order."""
        rows = self.connection.execute(
            "SELECT * FROM ("
            " SELECT i.image, i.image_id, i.services, i.status, i.reason, i.position,"
            " i.critical, i.high, i.fixable_critical, i.fixable_high,"
            " r.id AS run_id, r.started_at,"
            " row_number() OVER (PARTITION BY i.image ORDER BY r.id DESC, i.position)"
            "   AS newest"
            " FROM run_images AS i JOIN runs AS r ON r.id = i.run_id"
            ") WHERE newest = 1 ORDER BY image"
        ).fetchall()
        return [
            ImageStatus(
                image=row["image"],
                image_id=row["image_id"],
                services=", ".join(_json_list(row["services"])),
                status=ScanStatus(row["status"]),
                reason=row["reason"],
                run_id=row["run_id"],
                run_started_at=decode_time(row["started_at"]),
                position=row["position"],
                critical=row["critical"],
                high=row["high"],
                fixable_critical=row["fixable_critical"],
                fixable_high=row["fixable_high"],
            )
            for row in rows
        ]

    def search_findings(self, query: FindingQuery) -> tuple[list[FindingMatch], bool]:
        """Return up to ``SEARCH_LIMIT`` matching packages, and whether more matched."""
        conditions = []
        parameters: list[object] = []
        for column, text in (
            ("f.vulnerability_id", query.vulnerability_id),
            ("p.name", query.package),
            ("i.image", query.image),
        ):
            if text:
                conditions.append(f"{column} LIKE ? ESCAPE '\\'")
                parameters.append(f"%{_escape_like(text)}%")
        if not query.all_runs:
            # The newest run that scanned each image reference.
            conditions.append(
                "i.run_id = (SELECT max(other.run_id) FROM run_images AS other"
                " WHERE other.image = i.image)"
            )
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        rows = self.connection.execute(
            "SELECT r.id AS run_id, r.started_at, i.image, i.position, f.vulnerability_id,"
            " f.severity, p.name, p.installed_version, p.fixed_version, p.status"
            " FROM findings AS f"
            " JOIN finding_packages AS p ON p.finding_id = f.id"
            " JOIN run_images AS i ON i.id = f.run_image_id"
            " JOIN runs AS r ON r.id = i.run_id"
            f"{where}"
            " ORDER BY r.id DESC, i.position, f.position, p.position LIMIT ?",
            [*parameters, SEARCH_LIMIT + 1],
        ).fetchall()
        matches = [
            FindingMatch(
                run_id=row["run_id"],
                run_started_at=decode_time(row["started_at"]),
                image=row["image"],
                position=row["position"],
                vulnerability_id=row["vulnerability_id"],
                severity=Severity.parse(row["severity"]),
                package=row["name"],
                installed_version=row["installed_version"],
                fixed_version=row["fixed_version"],
                status=row["status"],
            )
            for row in rows[:SEARCH_LIMIT]
        ]
        return matches, len(rows) > SEARCH_LIMIT

    def latest_finished_run_id(self) -> int | None:
        """Return the id of the newest run that is no longer running."""
        statuses = [status.value for status in FINISHED_STATUSES]
        row = self.connection.execute(
            f"SELECT max(id) FROM runs WHERE status IN ({', '.join('?' for _ in statuses)})",
            statuses,
        ).fetchone()
        return int(row[0]) if row[0] is not None else None

    def runs_until(self, run_id: int, count: int) -> list[RunSummary]:
        """Return summaries of run ``run_id`` and up to ``count - 1`` runs before it."""
        newest = self.store.list_runs(1)
        if not newest:
            return []
        # list_runs returns the newest runs, so ask for enough to reach back past run_id.
        window = max(newest[0].run_id - run_id, 0) + count
        return [summary for summary in self.store.list_runs(window) if summary.run_id <= run_id][
            :count
        ]


@contextmanager
def open_read_only(path: Path) -> Iterator[ReadOnlyHistory]:
    """Open the history at ``path`` read-only, raising StorageError when it cannot be read."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise StorageError(
            f"The history database {path} was not found",
            hint="pass --db with the file that `hullcheck scan` writes, or run a scan first",
        )
    try:
        connection = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as error:
        raise StorageError(
            f"Cannot open the history database {path} for reading: {error}",
            hint="check that the file and its directory are readable",
        ) from error
    try:
        connection.row_factory = sqlite3.Row
        try:
            version = check_schema(connection, path)
        except sqlite3.DatabaseError as error:
            raise StorageError(
                f"Cannot read the history database {path}: {error}",
                hint="check that the file is a hullcheck history database",
            ) from error
        if version < SCHEMA_VERSION:
            raise StorageError(
                f"The history database {path} has schema version {version}, older than "
                f"version {SCHEMA_VERSION} that this hullcheck reads",
                hint=f"run `hullcheck history --db {path}` once to upgrade it",
            )
        yield ReadOnlyHistory(connection, path)
    finally:
        connection.close()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    value = json.loads(text)
    return [str(item) for item in value] if isinstance(value, list) else []
