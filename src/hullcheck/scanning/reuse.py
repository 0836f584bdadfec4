"""Skip work Trivy has already done: reuse results, or re-match stored SBOMs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from hullcheck.scanning.models import ImageScan, ScannerInfo


class ScanFinder(Protocol):
    def find_scan(
        self, image_id: str, *, trivy_version: str, db_updated_at: datetime
    ) -> ImageScan | None: ...


@dataclass
class ScanReuse:
    """Sources of earlier results and stored SBOMs.

    A result is reused only when the image ID, the Trivy version and the DB's UpdatedAt
    all match, since any of them can change the findings. With a newer DB, the image's
    stored SBOM is matched again, which costs a fraction of a new analysis.
    """

    history: ScanFinder
    sbom_dir: Path
    reuse_results: bool = True
    """False analyses every image again (``--rescan``); new SBOMs are still stored."""
    _found: dict[tuple[str, str, datetime], ImageScan | None] = field(
        default_factory=dict, repr=False
    )

    def previous(self, image_id: str, scanner: ScannerInfo) -> ImageScan | None:
        if (
            not self.reuse_results
            or scanner.database is None
            or scanner.database.updated_at is None
        ):
            return None
        key = (image_id, scanner.trivy_version, scanner.database.updated_at)
        # The planner and the scan both ask; the history is read once per image.
        if key not in self._found:
            self._found[key] = self.history.find_scan(
                image_id, trivy_version=key[1], db_updated_at=key[2]
            )
        return self._found[key]

    def sbom_path(self, image_id: str) -> Path:
        return self.sbom_dir / f"{image_id.removeprefix('sha256:')}.cdx.json"
