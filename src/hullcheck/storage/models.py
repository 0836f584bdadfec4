"""Errors and summary rows of the scan history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from hullcheck.errors import HullcheckError
from hullcheck.run import RunStatus


class StorageError(HullcheckError):
    """The history database cannot be opened, read or written."""


class RunNotFoundError(StorageError):
    """No run with the requested id exists in the history."""


class RunSummary(BaseModel):
    """One row of ``hullcheck history``: a run and its totals, without the findings."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    command: str
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    error: str | None = None
    images_total: int = 0
    images_scanned: int = 0
    images_failed: int = 0
    images_nothing_analysed: int = 0
    critical: int | None = 0
    """Unique CRITICAL vulnerability IDs, summed over the scanned images.

    None (like ``high`` and the fixable counts) when the run scanned no image, because
    zero would claim a clean result.
    """
    high: int | None = 0
    fixable_critical: int | None = 0
    fixable_high: int | None = 0
    trivy_version: str | None = None
    db_updated_at: datetime | None = None
    """``UpdatedAt`` of the Trivy vulnerability DB that the run used."""
