"""The CISA KEV catalog: parsing, and the status a report shows for it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from feed_fixtures import KEV_FIXTURE, FeedServer, Resource

from hullcheck.analysis.enrichment.feeds import FeedError
from hullcheck.analysis.enrichment.kev import load_kev, parse_kev
from hullcheck.analysis.enrichment.status import FeedState

RELEASED = datetime(2023, 11, 21, 17, 0, tzinfo=UTC)


def test_fixture_entries_parsed() -> None:
    catalog = parse_kev(KEV_FIXTURE.read_bytes())

    assert len(catalog) == 4
    assert catalog.catalog_version == "2023.11.21"
    assert catalog.released_at == RELEASED
    assert catalog.ids == {"CVE-2021-44228", "CVE-2023-4863", "CVE-2023-4966", "CVE-2023-4911"}


def test_glibc_entry_fields() -> None:
    entry = parse_kev(KEV_FIXTURE.read_bytes()).get("CVE-2023-4911")

    assert entry is not None
    assert entry.vendor_project == "GNU"
    assert entry.product == "GNU C Library"
    assert entry.date_added == date(2023, 11, 21)
    assert entry.due_date == date(2023, 12, 12)
    assert entry.known_ransomware is False


def test_ransomware_known_flag() -> None:
    catalog = parse_kev(KEV_FIXTURE.read_bytes())

    citrix_bleed = catalog.get("CVE-2023-4966")
    webp = catalog.get("CVE-2023-4863")
    assert citrix_bleed is not None
    assert citrix_bleed.known_ransomware is True
    assert webp is not None
    assert webp.known_ransomware is False
    assert webp.date_added == date(2023, 9, 13)


def test_lookup_ignores_case() -> None:
    catalog = parse_kev(KEV_FIXTURE.read_bytes())

    assert catalog.get(" cve-2023-4911 ") is not None
    assert catalog.get("CVE-2024-0727") is None


def test_invalid_entries_skipped() -> None:
    document = {
        "vulnerabilities": [
            {"cveID": "CVE-2023-4911", "dateAdded": "not a date"},
            {"vendorProject": "no ID"},
            {"cveID": "GHSA-jfh8-c2jp-5v3q"},
            "not an object",
        ]
    }

    catalog = parse_kev(json.dumps(document).encode())

    assert catalog.ids == {"CVE-2023-4911"}
    entry = catalog.get("CVE-2023-4911")
    assert entry is not None
    assert entry.date_added is None


def test_release_date_from_catalog_version() -> None:
    document = {"catalogVersion": "2024.05.01", "vulnerabilities": []}

    catalog = parse_kev(json.dumps(document).encode())

    assert catalog.released_at == datetime(2024, 5, 1, tzinfo=UTC)


def test_release_date_from_latest_entry() -> None:
    document = {
        "vulnerabilities": [
            {"cveID": "CVE-2023-4863", "dateAdded": "2023-09-13"},
            {"cveID": "CVE-2023-4966", "dateAdded": "2023-10-18"},
        ]
    }

    catalog = parse_kev(json.dumps(document).encode())

    assert catalog.released_at == datetime(2023, 10, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe not text", "not valid JSON"),
        (b"cveID,vendorProject\nCVE-2023-4911,GNU\n", "not valid JSON"),
        (b'{"title": "no list"}', "no 'vulnerabilities' list"),
        (b"[]", "no 'vulnerabilities' list"),
    ],
)
def test_invalid_catalog_rejected(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_kev(data)


def test_load_status_loaded(cache_dir: Path) -> None:
    now = RELEASED + timedelta(days=2, hours=1)

    catalog, status = load_kev(cache_dir, str(KEV_FIXTURE), now=now)

    assert catalog is not None
    assert status.state is FeedState.LOADED
    assert status.entries == 4
    assert status.published_at == RELEASED
    assert status.text == "loaded (2023-11-21, 2 days old)"


def test_load_status_stale(cache_dir: Path) -> None:
    now = RELEASED + timedelta(days=30)

    catalog, status = load_kev(cache_dir, str(KEV_FIXTURE), now=now)

    assert catalog is not None
    assert status.state is FeedState.STALE
    assert status.text == "stale (2023-11-21, 30 days old)"


def test_load_not_configured(cache_dir: Path) -> None:
    catalog, status = load_kev(cache_dir, None)

    assert catalog is None
    assert status.state is FeedState.MISSING
    assert status.text == "missing (no KEV location configured)"


def test_load_server_error_missing(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    feed_server.resources["/kev.json"] = Resource(body=b"", status=502)

    catalog, status = load_kev(cache_dir, feed_server.url("/kev.json"), session=session)

    assert catalog is None
    assert status.state is FeedState.MISSING
    assert "HTTP 502" in status.text


def test_load_invalid_body_missing(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    feed_server.resources["/kev.json"] = Resource(body=b"<html>maintenance</html>")

    catalog, status = load_kev(cache_dir, feed_server.url("/kev.json"), session=session)

    assert catalog is None
    assert status.state is FeedState.MISSING
    assert "not valid JSON" in status.text


def test_load_over_http_then_offline(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    feed_server.resources["/kev.json"] = Resource(body=KEV_FIXTURE.read_bytes(), etag='"a"')
    url = feed_server.url("/kev.json")
    load_kev(cache_dir, url, session=session, now=RELEASED)
    feed_server.resources["/kev.json"].status = 503

    catalog, status = load_kev(cache_dir, url, session=session, now=RELEASED + timedelta(days=1))

    assert catalog is not None
    assert status.state is FeedState.LOADED
    assert status.warning is not None
    assert "HTTP 503" in status.warning
