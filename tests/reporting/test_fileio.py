"""Atomic output files: content, permissions, and errors that name the path."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from hullcheck.errors import HullcheckError
from hullcheck.fileio import OutputError, write_atomic


def test_write_text_and_bytes(tmp_path: Path) -> None:
    text_path = tmp_path / "report.md"
    bytes_path = tmp_path / "report.bin"

    write_atomic(text_path, "Größe ✓\n")
    write_atomic(bytes_path, b"\x00\x01")

    assert text_path.read_text(encoding="utf-8") == "Größe ✓\n"
    assert bytes_path.read_bytes() == b"\x00\x01"


def test_default_mode_is_private(tmp_path: Path) -> None:
    path = tmp_path / "report.json"

    write_atomic(path, "{}")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_mode_ignores_umask(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    previous = os.umask(0o077)
    try:
        write_atomic(path, "{}", mode=0o644)
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old", encoding="utf-8")

    write_atomic(path, "new")

    assert path.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_symlink_target_replaced_link_kept(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)

    write_atomic(link, "new")

    assert link.is_symlink()
    assert target.read_text(encoding="utf-8") == "new"


def test_missing_directory_names_path(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "report.json"

    with pytest.raises(OutputError) as caught:
        write_atomic(path, "{}")

    assert isinstance(caught.value, HullcheckError)
    assert caught.value.message == f"cannot write {path}: No such file or directory"
    assert caught.value.hint == f"create the directory {path.parent} first, or choose another path"


def test_directory_as_path_rejected(tmp_path: Path) -> None:
    path = tmp_path / "reports"
    path.mkdir()

    with pytest.raises(OutputError, match="is a directory") as caught:
        write_atomic(path, "{}")

    assert str(path) in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_file_as_parent_rejected(tmp_path: Path) -> None:
    parent = tmp_path / "plain-file"
    parent.write_text("", encoding="utf-8")
    path = parent / "report.json"

    with pytest.raises(OutputError) as caught:
        write_atomic(path, "{}")

    assert str(path) in caught.value.message
    assert caught.value.hint is not None


def test_full_disk_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.json"
    path.write_text("old", encoding="utf-8")

    # A full disk shows up when the data is flushed, so that one system call fails here.
    def fsync_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync_full)

    with pytest.raises(OutputError) as caught:
        write_atomic(path, "new")

    assert caught.value.message == f"cannot write {path}: No space left on device"
    assert caught.value.hint is not None
    assert "free disk space" in caught.value.hint
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
