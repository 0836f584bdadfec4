"""One hullcheck run at a time on a machine: an exclusive lock that names its holder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hullcheck.errors import HullcheckError


class LockHeldError(HullcheckError):
    """Another hullcheck run holds the lock."""


@contextlib.contextmanager
def run_lock(path: Path, command: str) -> Iterator[None]:
    """Hold the run lock for the duration of the block, or raise LockHeldError at once.

    The kernel drops the lock when the holder exits, so a crashed run never blocks the next.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeldError(
                f"another hullcheck run has locked {path}: {_describe_holder(handle.read())}",
                hint="wait for that run to finish; the lock is released when its process ends",
            ) from None
        handle.seek(0)
        handle.truncate()
        holder = {
            "pid": os.getpid(),
            "command": command,
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        handle.write(json.dumps(holder))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"PID {holder['pid']} ({holder['command']}, started {holder['started_at']})"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
