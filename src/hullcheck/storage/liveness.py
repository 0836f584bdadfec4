"""Tell whether the process that began a run still exists.

A pid alone can be reused, so the owner of a run is the pid plus the process start time,
its pid namespace and the kernel boot id, all read from ``/proc`` on Linux. Elsewhere only
the pid is recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessOwner:
    """The process that writes a run, as stored in the ``runs.owner_*`` columns."""

    pid: int | None
    start_ticks: int | None = None
    """Start time in clock ticks after boot (field 22 of ``/proc/PID/stat``)."""
    pid_namespace: str | None = None
    boot_id: str | None = None


def describe_process(pid: int | None) -> ProcessOwner:
    """Return the owner record of ``pid`` with its start time, pid namespace and boot id."""
    if pid is None:
        return ProcessOwner(pid=None)
    return ProcessOwner(
        pid=pid,
        start_ticks=_start_ticks(pid),
        pid_namespace=_own_pid_namespace(),
        boot_id=_boot_id(),
    )


def owner_alive(owner: ProcessOwner) -> bool:
    """Return False when the owner has certainly exited, True when it may still be running."""
    if owner.pid is None or owner.pid <= 0:
        return False
    current_boot = _boot_id()
    if owner.boot_id and current_boot and owner.boot_id != current_boot:
        # The machine rebooted since (or the run came from another host), so the pid is gone.
        return False
    current_namespace = _own_pid_namespace()
    if owner.pid_namespace and current_namespace and owner.pid_namespace != current_namespace:
        # NOTE: a pid from another pid namespace (another container) cannot be checked from
        # here, so such a run stays "running" until a process in its namespace opens the store.
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The pid exists but belongs to another user: compare start times below.
        pass
    if _is_zombie(owner.pid):
        return False
    if owner.start_ticks is not None:
        return _start_ticks(owner.pid) == owner.start_ticks
    return True


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name in field 2 may contain spaces and ")", so split after its last ")".
    _, _, rest = text.rpartition(")")
    return rest.split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # rest starts at field 3 (state), so field 22 (starttime) is at index 19.
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] in ("Z", "X")


def _own_pid_namespace() -> str | None:
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        return None


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip() or None
    except OSError:
        return None
