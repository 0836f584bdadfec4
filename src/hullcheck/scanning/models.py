"""Scanner results: one per unique image, failed scans included."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from hullcheck.analysis.models import ImageFindings
from hullcheck.errors import HullcheckError


class ScanStatus(StrEnum):
    SCANNED = "scanned"
    FAILED = "failed"
    NOTHING_ANALYSED = "nothing_analysed"
    """Trivy ran but detected no OS and no packages: not the same as clean."""


class FailureClass(StrEnum):
    TIMEOUT = "timeout"
    DB_UNAVAILABLE = "db_unavailable"
    DB_CORRUPT = "db_corrupt"
    CACHE_LOCKED = "cache_locked"
    IMAGE_UNAVAILABLE = "image_unavailable"
    SCANNER_CRASHED = "scanner_crashed"
    INVALID_OUTPUT = "invalid_output"
    SCANNER_MISSING = "scanner_missing"
    INVALID_REFERENCE = "invalid_reference"
    """Discovery found no usable image reference for the service (see the reason)."""


class ScannerError(HullcheckError):
    """The scanner cannot run at all (missing binary, refused version, no usable DB).

    ``failure`` is the class that every image of the run is marked failed with.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        failure: FailureClass = FailureClass.DB_UNAVAILABLE,
    ) -> None:
        super().__init__(message, hint=hint)
        self.failure = failure


class ScanSource(StrEnum):
    """Origin of a scan result."""

    IMAGE = "image"
    """Trivy analysed the image itself."""
    SBOM = "sbom"
    """Trivy matched the SBOM stored at an earlier scan against the current DB."""
    REUSED = "reused"
    """An earlier result of the same image with the same Trivy and DB."""


class DatabaseInfo(BaseModel):
    """The Trivy vulnerability DB that a run used, from ``CACHE/db/metadata.json``."""

    schema_version: int
    updated_at: datetime | None = None
    next_update: datetime | None = None
    downloaded_at: datetime | None = None


class ScannerInfo(BaseModel):
    trivy_path: str
    trivy_version: str
    database: DatabaseInfo | None = None


class ImageScan(BaseModel):
    """The scan of one unique image, shared by every service that uses it."""

    image: str
    """Reference shown to the user (normalised for registry images, the name for local ones)."""
    image_id: str | None = None
    """Local image ID (``sha256:...``), the key that makes an image unique."""
    repo_digests: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    """``project/service`` names that use this image."""
    status: ScanStatus
    failure: FailureClass | None = None
    reason: str | None = None
    """Reason the scan failed or analysed nothing. None for a normal scan."""
    findings: ImageFindings | None = None
    duration_seconds: float | None = None
    source: ScanSource = ScanSource.IMAGE
