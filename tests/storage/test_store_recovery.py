"""Runs left "running" by a process that exited, and crash safety of saved images."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from history_samples import finished_run, scanned_debian_image

from hullcheck.run import RunRecord, RunStatus
from hullcheck.storage import HistoryStore


def _exited_pid() -> int:
    """Return the pid of a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_run() -> RunRecord:
    return finished_run().model_copy(
        update={"images": [], "problems": [], "status": RunStatus.RUNNING, "finished_at": None}
    )


def _status(path: Path, run_id: int) -> RunStatus:
    with HistoryStore.open(path) as store:
        return store.load_run(run_id).status


def _update(path: Path, sql: str, parameters: tuple[object, ...]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute(sql, parameters)
        connection.commit()
    finally:
        connection.close()


def test_dead_pid_marked_interrupted(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=_exited_pid())

    assert _status(history_path, run_id) is RunStatus.INTERRUPTED


def test_run_without_pid_marked_interrupted(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run())

    assert _status(history_path, run_id) is RunStatus.INTERRUPTED


def test_live_pid_stays_running(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=os.getpid())

    assert _status(history_path, run_id) is RunStatus.RUNNING


def test_reused_pid_marked_interrupted(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=os.getpid())
    # The stored pid now refers to a process that started at another time.
    _update(history_path, "UPDATE runs SET owner_start_ticks = owner_start_ticks + 1", ())

    assert _status(history_path, run_id) is RunStatus.INTERRUPTED


def test_run_from_before_reboot_interrupted(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=os.getpid())
    _update(history_path, "UPDATE runs SET owner_boot_id = ?", ("another-boot",))

    assert _status(history_path, run_id) is RunStatus.INTERRUPTED


def test_finished_runs_never_interrupted(history_path: Path) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=_exited_pid())
        store.finish_run(run_id, RunStatus.COMPLETE, scanner=None)

    assert _status(history_path, run_id) is RunStatus.COMPLETE


_CRASHING_CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import UTC, datetime
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])
    from history_samples import failed_image, scanned_debian_image
    from hullcheck.run import RunRecord
    from hullcheck.storage import HistoryStore

    store = HistoryStore.open(Path(sys.argv[1]))
    run_id = store.begin_run(
        RunRecord(command="scan", started_at=datetime.now(UTC)), pid=os.getpid()
    )
    store.save_image(run_id, scanned_debian_image())
    print(run_id, flush=True)

    # Die inside the write of the second image, before its COMMIT.
    connection = store._connection
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "INSERT INTO run_images (run_id, position, image, repo_digests, services, status)"
        " VALUES (?, 1, 'half-written', '[]', '[]', 'scanned')",
        (run_id,),
    )
    os._exit(1)
    """
)


def test_crash_mid_run_keeps_saved_image(history_path: Path) -> None:
    HistoryStore.open(history_path).close()

    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, str(history_path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert child.returncode == 1, child.stderr
    run_id = int(child.stdout.strip())
    with HistoryStore.open(history_path) as store:
        run = store.load_run(run_id)
        (summary,) = store.list_runs()
    assert run.status is RunStatus.INTERRUPTED
    assert run.finished_at is None
    assert run.images == [scanned_debian_image()]
    assert summary.status is RunStatus.INTERRUPTED
    assert summary.critical == 1
    connection = sqlite3.connect(history_path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        connection.close()


@pytest.mark.parametrize("pid", [0, -1])
def test_nonpositive_pid_interrupted(history_path: Path, pid: int) -> None:
    with HistoryStore.open(history_path) as store:
        run_id = store.begin_run(_running_run(), pid=pid)

    assert _status(history_path, run_id) is RunStatus.INTERRUPTED
