"""Write output files so that a reader sees either the old content or the new, never a part."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from hullcheck.errors import HullcheckError


class OutputError(HullcheckError):
    """A report or other output file could not be written."""


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (text is encoded as UTF-8) in one atomic rename.

    The data goes to a temporary file in the same directory, is flushed to disk and then
    renamed over ``path``, so a crash or a full disk leaves the old file intact. The new
    file gets permission bits ``mode`` whatever the umask is. When ``path`` is a symbolic
    link, the file it points to is replaced and the link is kept.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target = Path(os.path.realpath(path))
    directory = target.parent

    try:
        descriptor, temporary_name = tempfile.mkstemp(
            dir=directory, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise write_error(path, error) from error

    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary_name, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary_name)
        raise write_error(path, error) from error

    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Flush the rename to disk. Some file systems cannot open a directory, which is harmless."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


_HINTS = {
    errno.ENOENT: "create the directory {parent} first, or choose another path",
    errno.ENOTDIR: "a part of {parent} is a file, not a directory: choose another path",
    errno.EACCES: "choose a writable location, or allow writing to {parent}",
    errno.EPERM: "choose a writable location, or allow writing to {parent}",
    errno.EROFS: "the file system of {parent} is read-only: choose another path",
    errno.ENOSPC: "free disk space on the file system of {parent}, or choose another path",
    errno.EDQUOT: "the disk quota of {parent} is used up: free space or choose another path",
    errno.EISDIR: "{path} is a directory: give a file name inside it",
}


def write_error(path: Path, error: OSError) -> OutputError:
    """Describe a failed write of ``path``: the OS reason and what to do about it."""
    reason = error.strerror or str(error)
    template = _HINTS.get(error.errno or 0, "check the path and the permissions of {parent}")
    hint = template.format(parent=path.parent, path=path)
    return OutputError(f"cannot write {path}: {reason}", hint=hint)
