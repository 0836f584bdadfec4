"""The CISA Known Exploited Vulnerabilities (KEV) catalog, in its JSON form.

The catalog is one object with ``catalogVersion`` (``2024.05.01``), ``dateReleased`` and
``vulnerabilities``: a list of entries with ``cveID``, ``vendorProject``, ``product``,
``vulnerabilityName``, ``dateAdded``, ``dueDate``, ``requiredAction`` and
``knownRansomwareCampaignUse`` (``Known`` or ``Unknown``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

from hullcheck.analysis.enrichment.feeds import FeedError, fetch_feed
from hullcheck.analysis.enrichment.status import FeedStatus, loaded, missing
from hullcheck.analysis.models import KevEntry

logger = logging.getLogger(__name__)

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
"""CISA's JSON catalog. CISA also publishes a CSV form, which this parser does not read."""

KEV_STALE_AFTER = timedelta(days=14)
"""CISA adds entries on most working days, so two weeks without a release means an old copy."""

FEED_NAME = "KEV"

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_CATALOG_VERSION = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})")


@dataclass(frozen=True)
class KevCatalog:
    entries: Mapping[str, KevEntry]
    """Entries by upper-case CVE ID."""
    catalog_version: str | None = None
    released_at: datetime | None = None
    """``dateReleased``, else the date in ``catalogVersion``, else the latest ``dateAdded``."""

    @property
    def ids(self) -> frozenset[str]:
        """Every CVE ID in the catalog, for ``deployment.policy.decide(known_exploited=...)``."""
        return frozenset(self.entries)

    def get(self, vulnerability_id: str) -> KevEntry | None:
        return self.entries.get(vulnerability_id.strip().upper())

    def __len__(self) -> int:
        return len(self.entries)


def parse_kev(data: bytes) -> KevCatalog:
    """Parse the JSON catalog; raise FeedError when it is not one.

    Entries without a valid ``cveID`` are skipped with a warning, and unreadable dates
    become None, so one malformed entry does not cost the whole catalog.
    """
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise FeedError(
            f"the KEV catalog is not valid JSON: {error}",
            hint="check that the location names CISA's JSON catalog, not the CSV file",
        ) from error
    if not isinstance(document, dict) or not isinstance(document.get("vulnerabilities"), list):
        raise FeedError(
            "the KEV catalog has no 'vulnerabilities' list",
            hint="check that the location names CISA's known_exploited_vulnerabilities.json",
        )

    entries: dict[str, KevEntry] = {}
    skipped = 0
    for item in document["vulnerabilities"]:
        entry = _entry(item)
        if entry is None:
            skipped += 1
            continue
        entries[entry.cve_id] = entry
    if skipped:
        logger.warning("Skipped %d KEV entries without a valid cveID", skipped)

    version = _text(document.get("catalogVersion"))
    return KevCatalog(
        entries=entries,
        catalog_version=version,
        released_at=_released_at(document, version, entries.values()),
    )


def load_kev(
    cache_dir: Path,
    location: str | None = KEV_URL,
    *,
    session: requests.Session | None = None,
    now: datetime | None = None,
    stale_after: timedelta = KEV_STALE_AFTER,
) -> tuple[KevCatalog | None, FeedStatus]:
    """Fetch and parse the catalog; on any failure return None and a MISSING status.

    ``location`` None means the feed is not configured.
    """
    moment = now or datetime.now(UTC)
    if location is None:
        return None, missing(FEED_NAME, None, "no KEV location configured")
    try:
        document = fetch_feed(FEED_NAME, location, cache_dir, session=session, now=moment)
        catalog = parse_kev(document.body)
    except FeedError as error:
        logger.warning("The KEV catalog is unavailable: %s", error)
        return None, missing(FEED_NAME, location, str(error))
    except Exception as error:
        # A feed only ranks findings, so an unforeseen failure must not stop the scan. It
        # is logged with its traceback and shown as the reason in the status.
        logger.exception("Reading the KEV catalog from %s failed", location)
        return None, missing(FEED_NAME, location, f"unexpected error: {error}")

    published = catalog.released_at or document.fetched_at
    status = loaded(
        FEED_NAME,
        location,
        published_at=published,
        now=moment,
        stale_after=stale_after,
        entries=len(catalog),
        warning=document.warning,
    )
    return catalog, status


def _entry(item: object) -> KevEntry | None:
    if not isinstance(item, dict):
        return None
    cve_id = (_text(item.get("cveID")) or "").upper()
    if not _CVE_ID.fullmatch(cve_id):
        return None
    return KevEntry(
        cve_id=cve_id,
        vendor_project=_text(item.get("vendorProject")),
        product=_text(item.get("product")),
        vulnerability_name=_text(item.get("vulnerabilityName")),
        date_added=_date(item.get("dateAdded")),
        due_date=_date(item.get("dueDate")),
        known_ransomware=(_text(item.get("knownRansomwareCampaignUse")) or "").lower() == "known",
        required_action=_text(item.get("requiredAction")),
    )


def _released_at(
    document: dict[str, object], version: str | None, entries: Iterable[KevEntry]
) -> datetime | None:
    released = _text(document.get("dateReleased"))
    if released:
        try:
            moment = datetime.fromisoformat(released)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            logger.debug("Unreadable KEV dateReleased %r", released)
    match = _CATALOG_VERSION.fullmatch(version or "")
    if match:
        try:
            year, month, day = (int(part) for part in match.groups())
            return datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            pass
    added = [entry.date_added for entry in entries if entry.date_added is not None]
    if added:
        latest = max(added)
        return datetime(latest.year, latest.month, latest.day, tzinfo=UTC)
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _date(value: object) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
