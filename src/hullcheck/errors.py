"""Base exception shared by every stage.

Each stage has its own subclass (``DiscoveryError``, ``ScannerError``, ...). Only the CLI
turns them into a one-line message with a hint; the traceback is shown with ``--debug``.
"""

from __future__ import annotations


class HullcheckError(Exception):
    """An error that the CLI reports as one line plus a hint on what to do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigurationError(HullcheckError):
    """Invalid settings, flags or paths given by the user."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: runs record themselves as interrupted and re-raise it.

    It derives from BaseException, like KeyboardInterrupt, so ``except Exception`` cannot
    swallow it, and Click does not turn it into its own "Aborted!" exit.
    """
