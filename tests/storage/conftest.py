"""Fixtures for the history store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hullcheck.storage import HistoryStore


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.db"


@pytest.fixture
def store(history_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(history_path) as opened:
        yield opened
