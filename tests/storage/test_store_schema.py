"""Opening the history database: migrations, WAL, file modes and unusable files."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from history_samples import failed_image, finished_run, save_step_by_step

from hullcheck.run import RunStatus
from hullcheck.storage import HistoryStore, StorageError, default_history_path, migrations


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_at_latest_schema(history_path: Path) -> None:
    HistoryStore.open(history_path).close()

    assert _query(history_path, "PRAGMA user_version") == [(migrations.SCHEMA_VERSION,)]
    assert _query(history_path, "PRAGMA application_id") == [(migrations.APPLICATION_ID,)]
    tables = {row[0] for row in _query(history_path, "SELECT name FROM sqlite_master")}
    assert {"runs", "run_images", "findings", "finding_packages", "run_problems"} <= tables


def test_reopen_keeps_data_and_version(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = save_step_by_step(store, finished_run(), pid=os.getpid())

    for _ in range(3):
        with HistoryStore.open(history_path) as store:
            assert [s.run_id for s in store.list_runs()] == [run_id]

    assert _query(history_path, "PRAGMA user_version") == [(migrations.SCHEMA_VERSION,)]


def test_new_migration_applied_once(history_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    HistoryStore.open(history_path).close()
    extra = (
        "CREATE TABLE notes (text TEXT NOT NULL);\n"
        "-- A ';' inside a literal must not split the statement.\n"
        "INSERT INTO notes (text) VALUES ('added; once');"
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, extra))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.MIGRATIONS))

    HistoryStore.open(history_path).close()
    HistoryStore.open(history_path).close()

    assert _query(history_path, "SELECT text FROM notes") == [("added; once",)]
    assert _query(history_path, "PRAGMA user_version") == [(migrations.SCHEMA_VERSION,)]


def test_failed_migration_rolls_back(history_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    HistoryStore.open(history_path).close()
    broken = "CREATE TABLE notes (text TEXT);\nINSERT INTO missing_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.MIGRATIONS))

    released = len(migrations.MIGRATIONS) - 1
    with pytest.raises(StorageError, match="missing_table"):
        HistoryStore.open(history_path)

    assert _query(history_path, "PRAGMA user_version") == [(released,)]
    assert _query(history_path, "SELECT name FROM sqlite_master WHERE name = 'notes'") == []


def test_split_statements_handles_literals() -> None:
    script = "CREATE TABLE a (x);\n-- comment only;\nINSERT INTO a VALUES ('x;y');\n"

    assert migrations.split_statements(script) == [
        "CREATE TABLE a (x);",
        "-- comment only;\nINSERT INTO a VALUES ('x;y');",
    ]


def test_wal_journal_mode_active(history_path: Path, store: HistoryStore) -> None:
    assert _query(history_path, "PRAGMA journal_mode") == [("wal",)]


def test_foreign_keys_enforced(store: HistoryStore) -> None:
    # The connection is private, but foreign keys are a per-connection setting.
    connection = store._connection

    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO run_problems (run_id, position, kind, message, blocks_deploy)"
            " VALUES (999, 0, 'missing_file', 'x', 1)"
        )


def test_default_path_file_and_dir_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "data"))

    with HistoryStore.open() as store:
        run_id = store.begin_run(finished_run(), pid=os.getpid())
        store.save_image(run_id, failed_image())
        wal = store.path.with_name("history.db-wal")
        assert wal.exists()
        assert _mode(wal) == 0o600

    assert store.path == default_history_path() == tmp_path / "data" / "history.db"
    assert _mode(store.path) == 0o600
    assert _mode(tmp_path / "data") == 0o700


def test_file_private_despite_umask(history_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        HistoryStore.open(history_path).close()
    finally:
        os.umask(previous)

    assert _mode(history_path) == 0o600


def test_newer_schema_rejected(history_path: Path) -> None:
    HistoryStore.open(history_path).close()
    connection = sqlite3.connect(history_path)
    connection.execute("PRAGMA user_version = 99")
    connection.close()

    with pytest.raises(StorageError) as caught:
        HistoryStore.open(history_path)

    assert str(history_path) in caught.value.message
    assert "schema version 99" in caught.value.message
    assert "newer hullcheck" in caught.value.message
    assert caught.value.hint is not None
    assert "upgrade hullcheck" in caught.value.hint
    assert _query(history_path, "PRAGMA user_version") == [(99,)]


def test_corrupt_file_rejected_untouched(history_path: Path) -> None:
    history_path.parent.mkdir(parents=True)
    garbage = b"this is not an SQLite file\n" * 200
    history_path.write_bytes(garbage)

    with pytest.raises(StorageError) as caught:
        HistoryStore.open(history_path)

    assert str(history_path) in caught.value.message
    assert "damaged or unreadable" in caught.value.message
    assert caught.value.hint is not None
    assert "move" in caught.value.hint
    assert history_path.read_bytes() == garbage


def test_foreign_database_rejected(history_path: Path) -> None:
    history_path.parent.mkdir(parents=True)
    connection = sqlite3.connect(history_path)
    connection.execute("CREATE TABLE recipes (name TEXT)")
    connection.close()

    with pytest.raises(StorageError, match="another program"):
        HistoryStore.open(history_path)

    tables = _query(history_path, "SELECT name FROM sqlite_master")
    assert tables == [("recipes",)]


def test_missing_file_without_create(history_path: Path) -> None:
    with pytest.raises(StorageError, match="was not found"):
        HistoryStore.open(history_path, create=False)

    assert not history_path.exists()


def test_damaged_row_reported(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = save_step_by_step(store, finished_run(), pid=os.getpid())
    connection = sqlite3.connect(history_path)
    connection.execute("UPDATE runs SET status = 'exploded'")
    connection.commit()
    connection.close()

    with HistoryStore.open(history_path) as store, pytest.raises(StorageError) as caught:
        store.load_run(run_id)

    assert "damaged" in caught.value.message
    assert str(history_path) in caught.value.message


def test_finish_after_interrupted_allowed(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(finished_run(), pid=None)
        store.mark_interrupted_runs()
        assert store.load_run(run_id).status is RunStatus.INTERRUPTED

        store.finish_run(run_id, RunStatus.COMPLETE, scanner=None)

        assert store.load_run(run_id).status is RunStatus.COMPLETE
