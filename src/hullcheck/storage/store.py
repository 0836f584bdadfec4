"""The history database: one SQLite file with every run, image scan and finding."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hullcheck import paths
from hullcheck.deployment.models import ServiceUpdate
from hullcheck.discovery.models import DiscoveryProblem
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ImageScan, ScannerInfo
from hullcheck.storage import notifications, rows
from hullcheck.storage.liveness import ProcessOwner, describe_process, owner_alive
from hullcheck.storage.migrations import check_schema, migrate
from hullcheck.storage.models import RunNotFoundError, RunSummary, StorageError
from hullcheck.storage.notifications import DeliveryRecord, NotificationStateEntry

logger = logging.getLogger(__name__)

HISTORY_FILE_NAME = "history.db"

_BUSY_TIMEOUT_SECONDS = 30.0
"""How long a write waits for another process's write transaction before failing."""

_SQLITE_MAX_INTEGER = 2**63 - 1

_FINISHED = frozenset({RunStatus.COMPLETE, RunStatus.PARTIAL, RunStatus.FAILED})


def default_history_path(*, create: bool = True) -> Path:
    """Return ``data_dir()/history.db``; ``create`` creates the data directory."""
    return paths.data_dir(create=create) / HISTORY_FILE_NAME


class HistoryStore:
    """Reader and writer of the scan history.

    Each write runs in its own ``BEGIN IMMEDIATE`` transaction, so a crash keeps every
    committed image and SQLite's write lock admits one writer at a time across processes.
    A store may be shared between threads: a lock serialises its use of the connection.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path | None = None, *, create: bool = True) -> HistoryStore:
        """Open the history at ``path`` (default ``data_dir()/history.db``).

        Applies pending migrations and marks runs whose process has exited as interrupted.
        With ``create=False`` a missing file raises StorageError instead of being created.
        """
        if path is None:
            path = default_history_path()
        path = path.expanduser().absolute()
        if not path.exists():
            if not create:
                raise StorageError(
                    f"The history database {path} was not found",
                    hint="check the path; hullcheck creates the file on the first scan",
                )
            _create_private_file(path)
        connection = _connect(path)
        store = cls(connection, path)
        try:
            with store._translate_errors("open"):
                check_schema(connection, path)
                _enable_wal(connection, path)
                migrate(connection, path)
                store.mark_interrupted_runs()
        except BaseException:
            connection.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def begin_run(self, run: RunRecord, *, pid: int | None = None) -> int:
        """Store a new run with status running and return its id.

        Pass ``pid=os.getpid()``, because a run without a pid is marked interrupted the next
        time any process opens the store. Images, problems and the scanner already in ``run``
        are stored too. ``run.status``, ``run.run_id`` and ``run.finished_at`` are ignored.
        """
        owner = describe_process(pid)
        with self._write("begin a run") as connection:
            cursor = connection.execute(
                "INSERT INTO runs (command, started_at, status, error, owner_pid,"
                " owner_start_ticks, owner_pid_namespace, owner_boot_id, trivy_path,"
                " trivy_version, db_schema_version, db_updated_at, db_next_update,"
                " db_downloaded_at, feeds)"
                " VALUES (:command, :started_at, :status, :error, :owner_pid,"
                " :owner_start_ticks, :owner_pid_namespace, :owner_boot_id, :trivy_path,"
                " :trivy_version, :db_schema_version, :db_updated_at, :db_next_update,"
                " :db_downloaded_at, :feeds)",
                {
                    "command": run.command,
                    "feeds": run.feeds,
                    "started_at": rows.encode_time(run.started_at),
                    "status": RunStatus.RUNNING.value,
                    "error": run.error,
                    "owner_pid": owner.pid,
                    "owner_start_ticks": owner.start_ticks,
                    "owner_pid_namespace": owner.pid_namespace,
                    "owner_boot_id": owner.boot_id,
                    **rows.scanner_columns(run.scanner),
                },
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            for position, scan in enumerate(run.images):
                rows.insert_image(connection, run_id, position, scan)
            rows.insert_problems(connection, run_id, 0, run.problems)
        logger.debug("Began run %d (%s) in %s", run_id, run.command, self.path)
        return run_id

    def save_image(self, run_id: int, scan: ImageScan) -> None:
        """Store one finished image scan in its own transaction, after the run's earlier ones."""
        with self._write(f"save image {scan.image} of run {run_id}") as connection:
            position = self._next_position(connection, "run_images", run_id)
            rows.insert_image(connection, run_id, position, scan)

    def save_problems(self, run_id: int, problems: list[DiscoveryProblem]) -> None:
        """Append discovery problems to a run."""
        with self._write(f"save problems of run {run_id}") as connection:
            position = self._next_position(connection, "run_problems", run_id)
            rows.insert_problems(connection, run_id, position, problems)

    def save_updates(self, run_id: int, updates: list[ServiceUpdate]) -> None:
        """Append per-service update results to a run."""
        with self._write(f"save updates of run {run_id}") as connection:
            position = self._next_position(connection, "run_updates", run_id)
            rows.insert_updates(connection, run_id, position, updates)

    def _next_position(self, connection: sqlite3.Connection, table: str, run_id: int) -> int:
        """Check that the run is still open and return the next free position in ``table``."""
        self._require_open_run(connection, run_id)
        # The table name is one of three literals above, never user input.
        row = connection.execute(
            f"SELECT coalesce(max(position) + 1, 0) FROM {table} WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0])

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        *,
        scanner: ScannerInfo | None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record how a run ended.

        ``finished_at`` defaults to now in UTC. ``scanner=None`` keeps the scanner stored by
        ``begin_run``, if any. ``error`` replaces the stored error.
        """
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status, not RunStatus.RUNNING")
        if finished_at is None:
            finished_at = datetime.now(UTC)
        with self._write(f"finish run {run_id}") as connection:
            self._require_open_run(connection, run_id)
            columns: dict[str, Any] = {
                "run_id": run_id,
                "status": status.value,
                "error": error,
                "finished_at": rows.encode_time(finished_at),
            }
            assignments = "status = :status, error = :error, finished_at = :finished_at"
            if scanner is not None:
                scanner_columns = rows.scanner_columns(scanner)
                columns.update(scanner_columns)
                assignments += "".join(f", {name} = :{name}" for name in scanner_columns)
            connection.execute(f"UPDATE runs SET {assignments} WHERE id = :run_id", columns)
        logger.debug("Finished run %d as %s", run_id, status.value)

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """Return summaries of the latest ``limit`` runs, newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self._read("list runs") as connection:
            result = connection.execute(
                "SELECT r.id, r.command, r.started_at, r.finished_at, r.status, r.error,"
                " r.trivy_version, r.db_updated_at,"
                " count(i.id) AS images_total,"
                " count(CASE WHEN i.status = 'scanned' THEN 1 END) AS images_scanned,"
                " count(CASE WHEN i.status = 'failed' THEN 1 END) AS images_failed,"
                " count(CASE WHEN i.status = 'nothing_analysed' THEN 1 END)"
                "   AS images_nothing_analysed,"
                " coalesce(sum(i.critical), 0) AS critical,"
                " coalesce(sum(i.high), 0) AS high,"
                " coalesce(sum(i.fixable_critical), 0) AS fixable_critical,"
                " coalesce(sum(i.fixable_high), 0) AS fixable_high"
                " FROM runs AS r LEFT JOIN run_images AS i ON i.run_id = r.id"
                " GROUP BY r.id ORDER BY r.id DESC LIMIT ?",
                # SQLite integers are 64-bit, and no history has more runs than that.
                (min(limit, _SQLITE_MAX_INTEGER),),
            ).fetchall()
            return [_summary(row) for row in result]

    def load_run(self, run_id: int) -> RunRecord:
        """Load a run with its images, findings and problems exactly as they were saved."""
        with self._read(f"load run {run_id}") as connection:
            row = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(
                    f"Run {run_id} was not found in {self.path}",
                    hint="run `hullcheck history` to list the stored runs",
                )
            return RunRecord(
                run_id=row["id"],
                command=row["command"],
                started_at=rows.decode_time(row["started_at"]),
                finished_at=rows.decode_time(row["finished_at"]),
                status=RunStatus(row["status"]),
                error=row["error"],
                scanner=rows.decode_scanner(row),
                images=rows.load_images(connection, run_id),
                problems=rows.load_problems(connection, run_id),
                updates=rows.load_updates(connection, run_id),
                feeds=row["feeds"],
            )

    def find_scan(
        self, image_id: str, *, trivy_version: str, db_updated_at: datetime
    ) -> ImageScan | None:
        """Return the newest successful scan of ``image_id`` made with this Trivy and DB.

        Such a result can be reused as it is: neither the image nor the DB has changed.
        """
        with self._read(f"find a scan of {image_id}") as connection:
            row = connection.execute(
                "SELECT r.id, i.id FROM run_images AS i JOIN runs AS r ON r.id = i.run_id"
                " WHERE i.image_id = ? AND i.status IN ('scanned', 'nothing_analysed')"
                " AND r.trivy_version = ? AND r.db_updated_at = ?"
                " ORDER BY r.id DESC LIMIT 1",
                (image_id, trivy_version, rows.encode_time(db_updated_at)),
            ).fetchone()
            if row is None:
                return None
            # Only that image's row and findings: a run can hold thousands of findings.
            for scan in rows.load_images(connection, row[0], run_image_id=row[1]):
                if scan.findings is not None:
                    return scan
        return None

    def first_seen(self, image: str, *, up_to_run: int) -> dict[str, datetime]:
        """Return, per vulnerability ID, when the image first showed it, up to a run."""
        with self._read(f"find first-seen dates for {image}") as connection:
            rows_found = connection.execute(
                "SELECT f.vulnerability_id, min(r.started_at) FROM findings AS f"
                " JOIN run_images AS i ON i.id = f.run_image_id JOIN runs AS r ON r.id = i.run_id"
                " WHERE i.image = ? AND r.id <= ? GROUP BY f.vulnerability_id",
                (image, up_to_run),
            ).fetchall()
        return {row[0]: rows.decode_time(row[1]) for row in rows_found}

    def latest_run(
        self,
        *,
        before: int | None = None,
        status: RunStatus | Collection[RunStatus] | None = None,
    ) -> RunRecord | None:
        """Load the newest run, optionally older than run ``before`` and with a given status."""
        conditions: list[str] = []
        parameters: list[Any] = []
        if before is not None:
            conditions.append("id < ?")
            parameters.append(before)
        if status is not None:
            statuses = [status] if isinstance(status, RunStatus) else list(status)
            conditions.append(f"status IN ({', '.join('?' for _ in statuses)})")
            parameters.extend(item.value for item in statuses)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._read("find the latest run") as connection:
            row = connection.execute(
                f"SELECT id FROM runs{where} ORDER BY id DESC LIMIT 1", parameters
            ).fetchone()
        if row is None:
            return None
        return self.load_run(row["id"])

    def load_notification_state(
        self, kinds: Collection[str] | None = None
    ) -> list[NotificationStateEntry]:
        """Return what earlier notifications stored, optionally only the given kinds."""
        with self._read("load the notification state") as connection:
            return notifications.load_state(connection, kinds)

    def save_notification_state(self, entries: Collection[NotificationStateEntry]) -> None:
        """Insert or replace state entries, keyed by kind and subject, in one transaction."""
        with self._write("save the notification state") as connection:
            notifications.upsert_state(connection, entries)

    def save_deliveries(self, records: Collection[DeliveryRecord]) -> None:
        """Append notification delivery attempts. Their targets must be redacted already."""
        with self._write("save notification deliveries") as connection:
            notifications.insert_deliveries(connection, records)

    def load_deliveries(self, run_id: int | None = None) -> list[DeliveryRecord]:
        """Return the delivery attempts of one run, or of every run, oldest first."""
        with self._read("load notification deliveries") as connection:
            return notifications.load_deliveries(connection, run_id)

    def mark_interrupted_runs(self) -> list[int]:
        """Mark "running" runs whose process has exited as interrupted, and return their ids."""
        with self._read("check running runs") as connection:
            running = connection.execute(
                "SELECT id, owner_pid, owner_start_ticks, owner_pid_namespace, owner_boot_id"
                " FROM runs WHERE status = ?",
                (RunStatus.RUNNING.value,),
            ).fetchall()
        dead = [row["id"] for row in running if not owner_alive(_owner(row))]
        if not dead:
            return []
        with self._write("mark interrupted runs") as connection:
            # The status check repeats inside the write lock, in case the run finished since.
            connection.executemany(
                "UPDATE runs SET status = ? WHERE id = ? AND status = ?",
                [(RunStatus.INTERRUPTED.value, run_id, RunStatus.RUNNING.value) for run_id in dead],
            )
        for run_id in dead:
            logger.warning("Run %d ended without finishing; it is recorded as interrupted", run_id)
        return dead

    def _require_open_run(self, connection: sqlite3.Connection, run_id: int) -> None:
        row = connection.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(f"Run {run_id} was not found in {self.path}")
        if RunStatus(row["status"]) in _FINISHED:
            raise StorageError(f"Run {run_id} in {self.path} is already {row['status']}")

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translate_errors(action):
            connection = self._connection
            # BEGIN IMMEDIATE takes the write lock at once, so a busy database waits or fails
            # before any work is done.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        # A deferred transaction gives the reads of one call a consistent snapshot.
        with self._lock, self._translate_errors(action):
            connection = self._connection
            connection.execute("BEGIN")
            try:
                yield connection
            except (ValueError, KeyError) as error:
                # Enum lookups, times, JSON and model validation reject damaged stored values.
                raise _damaged(self.path, action, error) from error
            finally:
                connection.execute("ROLLBACK")

    @contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StorageError(
                    f"Cannot {action}: the history database {self.path} is locked",
                    hint="another hullcheck process is writing to it; retry when it is done",
                ) from error
            raise _damaged(self.path, action, error) from error
        except sqlite3.DatabaseError as error:
            raise _damaged(self.path, action, error) from error


def _damaged(path: Path, action: str, error: Exception) -> StorageError:
    return StorageError(
        f"Cannot {action}: the history database {path} is damaged or unreadable ({error})",
        hint=f"move {path} aside to start a new history, or try `sqlite3 {path} .recover`",
    )


def _summary(row: sqlite3.Row) -> RunSummary:
    scanned = row["images_scanned"] + row["images_nothing_analysed"] > 0
    return RunSummary(
        run_id=row["id"],
        command=row["command"],
        started_at=rows.decode_time(row["started_at"]),
        finished_at=rows.decode_time(row["finished_at"]),
        status=RunStatus(row["status"]),
        error=row["error"],
        images_total=row["images_total"],
        images_scanned=row["images_scanned"],
        images_failed=row["images_failed"],
        images_nothing_analysed=row["images_nothing_analysed"],
        critical=row["critical"] if scanned else None,
        high=row["high"] if scanned else None,
        fixable_critical=row["fixable_critical"] if scanned else None,
        fixable_high=row["fixable_high"] if scanned else None,
        trivy_version=row["trivy_version"],
        db_updated_at=rows.decode_time(row["db_updated_at"]),
    )


def _owner(row: sqlite3.Row) -> ProcessOwner:
    return ProcessOwner(
        pid=row["owner_pid"],
        start_ticks=row["owner_start_ticks"],
        pid_namespace=row["owner_pid_namespace"],
        boot_id=row["owner_boot_id"],
    )


def _create_private_file(path: Path) -> None:
    paths_hint = f"set {paths.DATA_DIR_ENV} to a writable directory"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first, and its migrations run under the write lock.
        return
    except OSError as error:
        raise StorageError(
            f"Cannot create the history database {path}: {error.strerror or error}",
            hint=paths_hint,
        ) from error
    try:
        # The umask may have removed bits from 0600. SQLite gives the -wal and -shm files
        # the mode of this file.
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None turns off the implicit transactions of the sqlite3 module, so
        # only the explicit BEGIN and COMMIT in HistoryStore open and close them.
        connection = sqlite3.connect(
            path,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as error:
        raise StorageError(
            f"Cannot open the history database {path}: {error}",
            hint="check that the file and its directory are readable and writable",
        ) from error
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _enable_wal(connection: sqlite3.Connection, path: Path) -> None:
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # WAL needs shared memory, which some network file systems lack.
        logger.warning(
            "The history database %s uses journal mode %s instead of WAL; readers may wait "
            "for writers",
            path,
            mode,
        )
