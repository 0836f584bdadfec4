"""Process exit codes, documented in docs/cli.md."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of every hullcheck command."""

    SUCCESS = 0
    """The command did its job and nothing reached the ``--fail-on`` threshold."""

    FINDINGS = 1
    """Findings at or above ``--fail-on SEVERITY`` (only when that option is given)."""

    USAGE = 2
    """Invalid flags, settings or input files: nothing was scanned."""

    SCAN_FAILED = 3
    """One or more images could not be scanned; the other images are in the report."""

    UPDATE_FAILED = 4
    """One or more services failed to update or were rolled back; the others went ahead."""

    INTERRUPTED = 130
    """The run was stopped by SIGINT or SIGTERM; history records it as interrupted."""
