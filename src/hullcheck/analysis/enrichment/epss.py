"""FIRST EPSS scores, from the daily CSV file (plain or gzip-compressed).

The file starts with a comment line such as
``#model_version:v2025.03.14,score_date:2025-03-20T00:00:00Z``, then the header
``cve,epss,percentile`` and one row per scored CVE. Older files lack the comment line.
"""

from __future__ import annotations

import csv
import logging
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

from hullcheck.analysis.enrichment.feeds import FeedError, fetch_feed
from hullcheck.analysis.enrichment.status import FeedStatus, loaded, missing
from hullcheck.analysis.models import EpssScore

logger = logging.getLogger(__name__)

EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
"""The download that FIRST's EPSS data page links to.

NOTE: older FIRST pages name ``https://epss.cyentia.com/epss_scores-current.csv.gz``
for the same file. Check https://www.first.org/epss/data_stats when downloads fail.
"""

EPSS_STALE_AFTER = timedelta(days=7)
"""FIRST publishes new scores every day, so a week-old score date means an old copy."""

MAX_DECOMPRESSED_BYTES = 1024 * 1024 * 1024
"""Largest CSV text accepted from a gzip file, so a crafted file cannot exhaust memory.

NOTE: a guard, not a measured bound; the uncompressed daily file is far smaller.
"""

FEED_NAME = "EPSS"

_GZIP_MAGIC = b"\x1f\x8b"
_REQUIRED_COLUMNS = ("cve", "epss", "percentile")


@dataclass(frozen=True)
class EpssScores:
    scores: Mapping[str, tuple[float, float]]
    """``(epss, percentile)`` by upper-case CVE ID; plain tuples keep the full file small."""
    model_version: str | None = None
    scored_at: datetime | None = None
    """The ``score_date`` of the comment line."""

    def get(self, vulnerability_id: str) -> EpssScore | None:
        key = vulnerability_id.strip().upper()
        values = self.scores.get(key)
        if values is None:
            return None
        score_date = self.scored_at.date() if self.scored_at is not None else None
        return EpssScore(
            cve_id=key, probability=values[0], percentile=values[1], score_date=score_date
        )

    def __len__(self) -> int:
        return len(self.scores)


def parse_epss(data: bytes, *, only: Collection[str] | None = None) -> EpssScores:
    """Parse the CSV file; keep only the IDs in ``only`` when it is given.

    Rows with an unreadable number or a value outside 0..1 are skipped with a warning.
    Raises FeedError when the file has no header or no valid row at all.
    """
    text = _decode(_gunzip(data) if data.startswith(_GZIP_MAGIC) else data)
    lines = text.splitlines()
    metadata: dict[str, str] = {}
    if lines and lines[0].startswith("#"):
        metadata = _metadata(lines[0])
        lines = lines[1:]

    reader = csv.DictReader(lines)
    columns = [name.strip().lower() for name in reader.fieldnames or ()]
    if any(column not in columns for column in _REQUIRED_COLUMNS):
        raise FeedError(
            f"the EPSS file has the columns {columns or 'none'}, not cve, epss, percentile",
            hint="check that the location names FIRST's epss_scores CSV file",
        )
    reader.fieldnames = columns

    kept_ids = {item.strip().upper() for item in only} if only is not None else None
    scores: dict[str, tuple[float, float]] = {}
    valid = 0
    skipped = 0
    try:
        for row in reader:
            parsed = _row(row)
            if parsed is None:
                skipped += 1
                continue
            valid += 1
            cve_id, values = parsed
            if kept_ids is None or cve_id in kept_ids:
                scores[cve_id] = values
    except csv.Error as error:
        raise FeedError(
            f"the EPSS file is not valid CSV at line {reader.line_num}: {error}",
            hint="download the file again",
        ) from error
    if skipped:
        logger.warning("Skipped %d EPSS rows with an invalid CVE ID or score", skipped)
    if valid == 0:
        raise FeedError("the EPSS file contains no scores", hint="download the file again")

    return EpssScores(
        scores=scores,
        model_version=metadata.get("model_version"),
        scored_at=_timestamp(metadata.get("score_date")),
    )


def load_epss(
    cache_dir: Path,
    location: str | None = EPSS_URL,
    *,
    only: Collection[str] | None = None,
    session: requests.Session | None = None,
    now: datetime | None = None,
    stale_after: timedelta = EPSS_STALE_AFTER,
) -> tuple[EpssScores | None, FeedStatus]:
    """Fetch and parse the scores; on any failure return None and a MISSING status.

    ``location`` None means the feed is not configured. ``only`` limits the scores kept in
    memory to the IDs a run found.
    """
    moment = now or datetime.now(UTC)
    if location is None:
        return None, missing(FEED_NAME, None, "no EPSS location configured")
    try:
        document = fetch_feed(FEED_NAME, location, cache_dir, session=session, now=moment)
        scores = parse_epss(document.body, only=only)
    except FeedError as error:
        logger.warning("The EPSS scores are unavailable: %s", error)
        return None, missing(FEED_NAME, location, str(error))
    except Exception as error:
        # A feed only ranks findings, so an unforeseen failure must not stop the scan. It
        # is logged with its traceback and shown as the reason in the status.
        logger.exception("Reading the EPSS scores from %s failed", location)
        return None, missing(FEED_NAME, location, f"unexpected error: {error}")

    status = loaded(
        FEED_NAME,
        location,
        published_at=scores.scored_at or document.fetched_at,
        now=moment,
        stale_after=stale_after,
        entries=len(scores),
        warning=document.warning,
    )
    return scores, status


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        text = decompressor.decompress(data, MAX_DECOMPRESSED_BYTES)
    except zlib.error as error:
        raise FeedError(
            f"the EPSS file is not valid gzip: {error}", hint="download the file again"
        ) from error
    if decompressor.unconsumed_tail:
        raise FeedError(
            f"the EPSS file expands to more than {MAX_DECOMPRESSED_BYTES} bytes",
            hint="check that the location names FIRST's epss_scores file",
        )
    if not decompressor.eof:
        raise FeedError("the EPSS gzip file is truncated", hint="download the file again")
    return text


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FeedError(
            f"the EPSS file is not UTF-8 text: {error}",
            hint="check that the location names FIRST's epss_scores CSV file",
        ) from error


def _metadata(line: str) -> dict[str, str]:
    """Read ``#key:value,key:value``; a value may contain colons, as a time does."""
    values: dict[str, str] = {}
    for part in line.lstrip("#").split(","):
        key, separator, value = part.partition(":")
        if separator:
            values[key.strip().lower()] = value.strip()
    return values


def _row(row: dict[str, str | None]) -> tuple[str, tuple[float, float]] | None:
    cve_id = (row.get("cve") or "").strip().upper()
    if not cve_id.startswith("CVE-"):
        return None
    try:
        probability = float(row.get("epss") or "")
        percentile = float(row.get("percentile") or "")
    except ValueError:
        return None
    if not (0.0 <= probability <= 1.0 and 0.0 <= percentile <= 1.0):
        return None
    return cve_id, (probability, percentile)


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text[:10])
        except ValueError:
            logger.debug("Unreadable EPSS score_date %r", text)
            return None
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
