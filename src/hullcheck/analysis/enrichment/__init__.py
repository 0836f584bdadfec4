"""Exploitability data for findings: the CISA KEV catalog, FIRST EPSS scores and a ranking."""

from hullcheck.analysis.enrichment.epss import EPSS_URL, EpssScores, load_epss, parse_epss
from hullcheck.analysis.enrichment.feeds import FeedDocument, FeedError, fetch_feed
from hullcheck.analysis.enrichment.kev import KEV_URL, KevCatalog, load_kev, parse_kev
from hullcheck.analysis.enrichment.loading import (
    Enrichment,
    default_feed_cache_dir,
    load_enrichment,
)
from hullcheck.analysis.enrichment.priority import (
    FixSplit,
    enrich,
    rank_findings,
    split_by_fix,
    urgency_key,
)
from hullcheck.analysis.enrichment.status import EnrichmentStatus, FeedState, FeedStatus

__all__ = [
    "EPSS_URL",
    "KEV_URL",
    "Enrichment",
    "EnrichmentStatus",
    "EpssScores",
    "FeedDocument",
    "FeedError",
    "FeedState",
    "FeedStatus",
    "FixSplit",
    "KevCatalog",
    "default_feed_cache_dir",
    "enrich",
    "fetch_feed",
    "load_enrichment",
    "load_epss",
    "load_kev",
    "parse_epss",
    "parse_kev",
    "rank_findings",
    "split_by_fix",
    "urgency_key",
]
