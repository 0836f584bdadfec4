"""Load both exploitability feeds at once, for the scan and update pipelines."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from hullcheck.analysis.enrichment.epss import EpssScores, load_epss
from hullcheck.analysis.enrichment.kev import KevCatalog, load_kev
from hullcheck.analysis.enrichment.priority import enrich
from hullcheck.analysis.enrichment.status import EnrichmentStatus
from hullcheck.analysis.models import ImageFindings
from hullcheck.errors import HullcheckError
from hullcheck.paths import cache_dir as hullcheck_cache_dir

logger = logging.getLogger(__name__)

FEED_CACHE_SUBDIR = "feeds"


def default_feed_cache_dir(*, create: bool = True) -> Path:
    """Return ``CACHE_DIR/feeds`` (``~/.cache/hullcheck/feeds``), where feed copies live."""
    return hullcheck_cache_dir(create=create) / FEED_CACHE_SUBDIR


@dataclass(frozen=True)
class Enrichment:
    """The feeds a run loaded, None for each one that is missing, and their status."""

    kev: KevCatalog | None
    epss: EpssScores | None
    status: EnrichmentStatus

    @property
    def known_exploited(self) -> frozenset[str]:
        """KEV IDs for ``deployment.policy.decide``; empty when the catalog is missing."""
        return self.kev.ids if self.kev is not None else frozenset()

    def apply(self, image_findings: ImageFindings) -> ImageFindings:
        """Return ``image_findings`` enriched and ranked (see ``priority.enrich``)."""
        return enrich(image_findings, self.kev, self.epss)


def load_enrichment(
    cache_dir: Path | None = None,
    *,
    kev_location: str | None = None,
    epss_location: str | None = None,
    cve_ids: Collection[str] | None = None,
    session: requests.Session | None = None,
    now: datetime | None = None,
) -> Enrichment:
    """Load the KEV catalog and the EPSS scores; never raises for a feed failure.

    A location of None leaves that feed out. ``cve_ids`` keeps only those EPSS scores in
    memory. ``cache_dir`` keeps the downloaded copies between runs; the default is
    ``default_feed_cache_dir()``.
    """
    moment = now or datetime.now(UTC)
    if cache_dir is None:
        try:
            cache_dir = default_feed_cache_dir()
        except HullcheckError as error:
            # Without a cache every run downloads again, which is slower but still works.
            logger.warning("Feeds are not cached: %s", error)
            cache_dir = default_feed_cache_dir(create=False)
    kev, kev_status = load_kev(cache_dir, kev_location, session=session, now=moment)
    epss, epss_status = load_epss(
        cache_dir, epss_location, only=cve_ids, session=session, now=moment
    )
    return Enrichment(kev=kev, epss=epss, status=EnrichmentStatus(kev=kev_status, epss=epss_status))
