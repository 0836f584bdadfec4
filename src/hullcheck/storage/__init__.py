"""Scan history: every run, image scan and finding in one SQLite database."""

from hullcheck.storage.models import RunNotFoundError, RunSummary, StorageError
from hullcheck.storage.store import HISTORY_FILE_NAME, HistoryStore, default_history_path

__all__ = [
    "HISTORY_FILE_NAME",
    "HistoryStore",
    "RunNotFoundError",
    "RunSummary",
    "StorageError",
    "default_history_path",
]
