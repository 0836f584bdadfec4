"""Numbered schema migrations of the history database.

``MIGRATIONS[n]`` moves the schema from version ``n`` to ``n + 1``; ``PRAGMA user_version``
stores the number applied. Append new migrations and never edit a released one, because
existing databases have already run it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from hullcheck.storage.models import StorageError

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x48554C4C
"""``PRAGMA application_id`` of a hullcheck history ("HULL" in ASCII)."""

_SCHEMA_1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    error TEXT,
    -- The process that writes the run, so a later open can tell a crashed run from a live one.
    owner_pid INTEGER,
    owner_start_ticks INTEGER,
    owner_pid_namespace TEXT,
    owner_boot_id TEXT,
    -- ScannerInfo; trivy_path is NULL when the run has no scanner.
    trivy_path TEXT,
    trivy_version TEXT,
    -- DatabaseInfo; db_schema_version is NULL when the DB metadata was not read.
    db_schema_version INTEGER,
    db_updated_at TEXT,
    db_next_update TEXT,
    db_downloaded_at TEXT
);

CREATE INDEX runs_status ON runs (status);

CREATE TABLE run_images (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    image TEXT NOT NULL,
    image_id TEXT,
    repo_digests TEXT NOT NULL,
    services TEXT NOT NULL,
    status TEXT NOT NULL,
    failure TEXT,
    reason TEXT,
    duration_seconds REAL,
    -- ImageFindings; artifact_name is NULL when the scan produced no report.
    artifact_name TEXT,
    report_schema_version INTEGER,
    os_family TEXT,
    os_name TEXT,
    os_eosl INTEGER,
    analysed INTEGER,
    trivy_version TEXT,
    report_image_id TEXT,
    report_repo_digests TEXT,
    -- Unique vulnerability IDs per severity, all and fixable only, for listing without joins.
    critical INTEGER NOT NULL DEFAULT 0,
    high INTEGER NOT NULL DEFAULT 0,
    medium INTEGER NOT NULL DEFAULT 0,
    low INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0,
    fixable_critical INTEGER NOT NULL DEFAULT 0,
    fixable_high INTEGER NOT NULL DEFAULT 0,
    fixable_medium INTEGER NOT NULL DEFAULT 0,
    fixable_low INTEGER NOT NULL DEFAULT 0,
    fixable_unknown INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, position)
);

CREATE INDEX run_images_image_id ON run_images (image_id);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    run_image_id INTEGER NOT NULL REFERENCES run_images (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    vulnerability_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT,
    severity_source TEXT,
    vendor_severity TEXT NOT NULL,
    primary_url TEXT,
    UNIQUE (run_image_id, position)
);

CREATE INDEX findings_vulnerability_id ON findings (vulnerability_id);

CREATE TABLE finding_packages (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    installed_version TEXT,
    fixed_version TEXT,
    status TEXT,
    target TEXT,
    package_class TEXT,
    package_type TEXT,
    path TEXT,
    UNIQUE (finding_id, position)
);

CREATE TABLE run_problems (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    file TEXT,
    service TEXT,
    variable TEXT,
    blocks_deploy INTEGER NOT NULL,
    UNIQUE (run_id, position)
);
"""

_SCHEMA_2 = """
-- One row per service of an update run: the action taken and why, with the finding delta.
CREATE TABLE run_updates (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    -- The whole ServiceUpdate as JSON, so new fields need no migration.
    document TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""

_SCHEMA_3 = """
-- What the last sent notification told the user, one row per kind and subject, so a
-- restart does not send the same news again. value is JSON; its layout depends on kind.
CREATE TABLE notification_state (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    value TEXT NOT NULL,
    run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);

-- One row per notification target and attempt. target is the redacted URL, never the URL
-- itself, because webhook URLs carry their secret token.
CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs (id) ON DELETE CASCADE,
    sent_at TEXT NOT NULL,
    target TEXT NOT NULL,
    channel TEXT NOT NULL,
    success INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    error TEXT
);

CREATE INDEX notification_deliveries_run_id ON notification_deliveries (run_id);
"""

_SCHEMA_4 = """
-- Exploitability and accepted risk of each finding, as JSON (NULL when not known).
ALTER TABLE findings ADD COLUMN kev TEXT;
ALTER TABLE findings ADD COLUMN epss TEXT;
ALTER TABLE findings ADD COLUMN accepted TEXT;
ALTER TABLE findings ADD COLUMN priority INTEGER;
-- What the run knew of the KEV and EPSS feeds, e.g. "KEV: loaded (2026-12-01, 3 days old)".
ALTER TABLE runs ADD COLUMN feeds TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_SCHEMA_1, _SCHEMA_2, _SCHEMA_3, _SCHEMA_4)
"""SQL scripts in order. A database at version ``n`` has run the first ``n`` of them."""

SCHEMA_VERSION = len(MIGRATIONS)


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements.

    ``executescript`` commits any open transaction first, so migrations run statement by
    statement inside one explicit transaction instead.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        # A ";" inside a string literal or a trigger body leaves the statement incomplete.
        if sqlite3.complete_statement(pending):
            if _strip_comments(pending).strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if _strip_comments(pending).strip(" \t\r\n;"):
        raise ValueError(f"Incomplete SQL statement at the end of a migration: {pending!r}")
    return statements


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Apply the pending migrations, each in its own transaction.

    The version is read again after taking the write lock, so two processes that open a new
    database at the same time apply each migration once.
    """
    for target in range(1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = check_schema(connection, path)
            if current >= target:
                connection.execute("ROLLBACK")
                continue
            for statement in split_statements(MIGRATIONS[target - 1]):
                connection.execute(statement)
            if target == 1:
                connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            # PRAGMA takes no bound parameters; target is an int from range().
            connection.execute(f"PRAGMA user_version = {target:d}")
            connection.execute("COMMIT")
        except sqlite3.OperationalError as error:
            connection.execute("ROLLBACK")
            if "locked" in str(error) or "busy" in str(error):
                raise
            raise StorageError(
                f"Cannot upgrade the history database {path} to schema version {target}: {error}",
                hint="the file is unchanged; report this error together with the hullcheck version",
            ) from error
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        logger.debug("Migrated the history database %s to schema version %d", path, target)


def check_schema(connection: sqlite3.Connection, path: Path) -> int:
    """Return the schema version, raising StorageError for a file that is not ours to migrate."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    application_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"The history database {path} has schema version {version}, but this hullcheck "
            f"supports up to version {SCHEMA_VERSION}: a newer hullcheck wrote it",
            hint="upgrade hullcheck, or set HULLCHECK_DATA_DIR to keep a separate history",
        )
    foreign = application_id not in (0, APPLICATION_ID) or (
        version > 0 and application_id != APPLICATION_ID
    )
    if not foreign and version == 0:
        # A fresh file is empty; tables in an unversioned file belong to another program.
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        foreign = tables > 0
    if foreign:
        raise StorageError(
            f"{path} is an SQLite database of another program, not a hullcheck history",
            hint=f"move {path} aside, or set HULLCHECK_DATA_DIR to another directory",
        )
    return version
