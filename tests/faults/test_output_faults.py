"""Reports that cannot be written: a clear error and exit code 2, and the run is still stored.

The tests run as root, and file modes do not stop root from writing. So "unwritable"
here means a path whose parent is a file, and "full" means a 64 KiB tmpfs mounted for
the test.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_lab import copy_cache, history_runs, invoke, scan_arguments, stored_run, write_compose

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab

_MNT_DETACH = 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted after the test."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    completed = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test: {completed.stderr.strip()}")
    try:
        yield mount_point
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(str(mount_point).encode(), _MNT_DETACH) != 0:
            raise OSError(ctypes.get_errno(), f"cannot unmount {mount_point}")


def fill(disk: Path, *, leave_bytes: int) -> None:
    """Write a filler file until at most ``leave_bytes`` stay free on ``disk``."""
    statistics = os.statvfs(disk)
    free = statistics.f_bavail * statistics.f_frsize
    with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
        filler.write(b"\0" * max(free - leave_bytes, 0))


def one_image_stack(lab: Lab, repository: str, directory: Path) -> Path:
    published = publish(lab, "debian-base", repository, "1")
    return write_compose(directory, {"app": published.reference})


def assert_run_stored(history: Path) -> None:
    [run] = history_runs(history)
    assert run["status"] == "complete"
    assert run["images_scanned"] == 1
    assert len(stored_run(history, run["run_id"]).images) == 1


def test_reports_path_is_file(
    lab: Lab,
    lab_trivy_cache: Path,
    lab_repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "reports").write_text("a file where the reports directory belongs\n")
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(data))
    compose = one_image_stack(lab, lab_repository, tmp_path / "stack")
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--format",
        "json",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history),
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"Cannot create the directory {data / 'reports'}" in result.stderr
    assert "HULLCHECK_DATA_DIR" in result.stderr
    assert '"images"' in result.stdout
    assert_run_stored(history)


def test_data_dir_under_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(blocker / "data"))
    compose = write_compose(tmp_path / "stack", {"app": "example/app:1"})
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--docker-host",
        f"unix://{tmp_path}/no-engine.sock",
        "--cache-dir",
        tmp_path / "cache",
        "--db",
        history,
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"Cannot create the directory {blocker / 'data'}: Not a directory" in result.stderr
    assert "set HULLCHECK_DATA_DIR to a writable directory" in result.stderr
    assert not history.exists()


def test_output_parent_is_file(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = one_image_stack(lab, lab_repository, tmp_path / "stack")
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory\n")
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--output",
        blocker / "report.txt",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history),
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"cannot write {blocker / 'report.txt'}: Not a directory" in result.stderr
    assert f"a part of {blocker} is a file" in result.stderr
    assert_run_stored(history)


def test_full_disk_reports_error(
    lab: Lab,
    lab_trivy_cache: Path,
    lab_repository: str,
    tmp_path: Path,
    tiny_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tiny_disk / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(data))
    compose = one_image_stack(lab, lab_repository, tmp_path / "stack")
    # One page stays free: enough for the run lock, not for the reports.
    data.mkdir()
    fill(tiny_disk, leave_bytes=4096)
    history = tmp_path / "history.db"

    result = invoke(
        "scan",
        compose,
        "--format",
        "json",
        *scan_arguments(lab, copy_cache(lab_trivy_cache, tmp_path / "cache"), history),
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"cannot write {data / 'reports'}" in result.stderr
    assert "No space left on device" in result.stderr
    assert "free disk space on the file system of" in result.stderr
    assert '"images"' in result.stdout
    assert_run_stored(history)


def test_full_disk_lock_error(
    tmp_path: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_disk / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(data))
    data.mkdir()
    fill(tiny_disk, leave_bytes=0)
    compose = write_compose(tmp_path / "stack", {"app": "example/app:1"})

    result = invoke(
        "scan",
        compose,
        "--docker-host",
        f"unix://{tmp_path}/no-engine.sock",
        "--cache-dir",
        tmp_path / "cache",
        "--db",
        tmp_path / "history.db",
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"cannot write {data / 'run.lock'}: No space left on device" in result.stderr
    assert "free disk space" in result.stderr
