"""Loading both feeds for a run: the report works whatever state each feed is in."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from feed_fixtures import EPSS_FIXTURE, KEV_FIXTURE, FeedServer, Resource

from hullcheck.analysis.enrichment.loading import load_enrichment
from hullcheck.analysis.enrichment.status import FeedState
from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity

NOW = datetime(2025, 3, 21, 12, 0, tzinfo=UTC)


def _image() -> ImageFindings:
    package = AffectedPackage(
        name="libc6", installed_version="2.36-9", fixed_version="2.36-9+deb12u3"
    )
    findings = (
        Finding(vulnerability_id="CVE-2024-0727", severity=Severity.HIGH, packages=(package,)),
        Finding(vulnerability_id="CVE-2023-4911", severity=Severity.HIGH, packages=(package,)),
    )
    return ImageFindings(artifact_name="debian:12", schema_version=2, findings=findings)


def test_both_feeds_over_http(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    feed_server.resources["/kev.json"] = Resource(body=KEV_FIXTURE.read_bytes(), etag='"k1"')
    feed_server.resources["/epss.csv.gz"] = Resource(
        body=gzip.compress(EPSS_FIXTURE.read_bytes()), etag='"e1"'
    )

    enrichment = load_enrichment(
        cache_dir,
        kev_location=feed_server.url("/kev.json"),
        epss_location=feed_server.url("/epss.csv.gz"),
        cve_ids={"CVE-2024-0727", "CVE-2023-4911"},
        session=session,
        now=NOW,
    )

    assert enrichment.kev is not None
    assert enrichment.epss is not None
    assert set(enrichment.epss.scores) == {"CVE-2024-0727", "CVE-2023-4911"}
    assert enrichment.status.kev.state is FeedState.STALE
    assert enrichment.status.epss.state is FeedState.LOADED
    assert "CVE-2023-4911" in enrichment.known_exploited
    ranked = enrichment.apply(_image())
    assert [f.vulnerability_id for f in ranked.findings] == ["CVE-2023-4911", "CVE-2024-0727"]


def test_missing_feeds_still_rank(cache_dir: Path, tmp_path: Path) -> None:
    enrichment = load_enrichment(
        cache_dir, kev_location=str(tmp_path / "absent.json"), epss_location=None, now=NOW
    )

    assert enrichment.kev is None
    assert enrichment.epss is None
    assert enrichment.known_exploited == frozenset()
    assert enrichment.status.complete is False
    assert enrichment.status.kev.state is FeedState.MISSING
    assert enrichment.status.text.startswith("KEV: missing (cannot read feed file")
    assert enrichment.status.text.endswith("EPSS: missing (no EPSS location configured)")
    ranked = enrichment.apply(_image())
    assert [f.priority for f in ranked.findings] == [1, 2]


def test_status_text_for_local_files(cache_dir: Path) -> None:
    enrichment = load_enrichment(
        cache_dir, kev_location=str(KEV_FIXTURE), epss_location=str(EPSS_FIXTURE), now=NOW
    )

    assert enrichment.status.text == (
        "KEV: stale (2023-11-21, 485 days old); EPSS: loaded (2025-03-20, 1 day old)"
    )


def test_default_cache_directory(
    feed_server: FeedServer,
    session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    feed_server.resources["/kev.json"] = Resource(body=KEV_FIXTURE.read_bytes(), etag='"k1"')

    enrichment = load_enrichment(
        kev_location=feed_server.url("/kev.json"), epss_location=None, session=session, now=NOW
    )

    assert enrichment.kev is not None
    assert (tmp_path / "cache" / "hullcheck" / "feeds" / "kev.body").exists()


def test_unwritable_cache_still_loads(
    feed_server: FeedServer,
    session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    feed_server.resources["/kev.json"] = Resource(body=KEV_FIXTURE.read_bytes())

    enrichment = load_enrichment(
        kev_location=feed_server.url("/kev.json"), epss_location=None, session=session, now=NOW
    )

    assert enrichment.kev is not None
    assert enrichment.status.kev.state is FeedState.STALE
