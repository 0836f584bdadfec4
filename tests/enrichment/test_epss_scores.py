"""FIRST EPSS scores: the CSV layout, gzip, and loading over HTTP."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from feed_fixtures import EPSS_FIXTURE, FeedServer, Resource

from hullcheck.analysis.enrichment import epss
from hullcheck.analysis.enrichment.epss import load_epss, parse_epss
from hullcheck.analysis.enrichment.feeds import FeedError
from hullcheck.analysis.enrichment.status import FeedState

SCORED = datetime(2025, 3, 20, tzinfo=UTC)


def test_plain_csv_parsed() -> None:
    scores = parse_epss(EPSS_FIXTURE.read_bytes())

    assert len(scores) == 7
    assert scores.model_version == "v2025.03.14"
    assert scores.scored_at == SCORED
    score = scores.get("CVE-2023-4911")
    assert score is not None
    assert score.probability == pytest.approx(0.73513)
    assert score.percentile == pytest.approx(0.98772)
    assert score.score_date == date(2025, 3, 20)


def test_gzip_csv_parsed() -> None:
    scores = parse_epss(gzip.compress(EPSS_FIXTURE.read_bytes()))

    assert len(scores) == 7
    assert scores.get("cve-2023-4966") is not None


def test_only_keeps_requested_ids() -> None:
    scores = parse_epss(EPSS_FIXTURE.read_bytes(), only={"CVE-2023-4863", "cve-2024-0727"})

    assert set(scores.scores) == {"CVE-2023-4863", "CVE-2024-0727"}


def test_file_without_comment_line() -> None:
    data = b"cve,epss,percentile\nCVE-2023-4863,0.43118,0.97369\n"

    scores = parse_epss(data)

    assert scores.model_version is None
    assert scores.scored_at is None
    assert len(scores) == 1


def test_offset_score_date_parsed() -> None:
    data = (
        b"#model_version:v2025.03.14,score_date:2025-03-20T00:00:00+0000\n"
        b"cve,epss,percentile\nCVE-2023-4863,0.43118,0.97369\n"
    )

    assert parse_epss(data).scored_at == SCORED


def test_invalid_rows_skipped() -> None:
    data = (
        b"cve,epss,percentile\n"
        b"CVE-2023-4863,0.43118,0.97369\n"
        b"CVE-2023-4911,high,0.9\n"
        b"CVE-2023-4966,1.5,0.9\n"
        b"GHSA-jfh8-c2jp-5v3q,0.1,0.5\n"
        b"CVE-2024-0727,nan,0.5\n"
    )

    scores = parse_epss(data)

    assert set(scores.scores) == {"CVE-2023-4863"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"id,score\nCVE-2023-4863,0.4\n", "not cve, epss, percentile"),
        (b"", "not cve, epss, percentile"),
        (b"cve,epss,percentile\n", "contains no scores"),
        (b"\x1f\x8b\x08garbage", "not valid gzip"),
        (gzip.compress(EPSS_FIXTURE.read_bytes())[:40], "truncated"),
        (b"cve,epss,percentile\n\xff\xfe,0.1,0.2\n", "not UTF-8"),
    ],
)
def test_invalid_file_rejected(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_epss(data)


def test_gzip_bomb_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epss, "MAX_DECOMPRESSED_BYTES", 64)

    with pytest.raises(FeedError, match="expands to more than 64 bytes"):
        parse_epss(gzip.compress(EPSS_FIXTURE.read_bytes()))


def test_load_gzip_over_http_with_304(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    feed_server.resources["/epss.csv.gz"] = Resource(
        body=gzip.compress(EPSS_FIXTURE.read_bytes()),
        etag='W/"scores-2025-03-20"',
        content_type="application/gzip",
    )
    url = feed_server.url("/epss.csv.gz")
    now = SCORED + timedelta(hours=7)

    first, first_status = load_epss(cache_dir, url, session=session, now=now)
    second, second_status = load_epss(cache_dir, url, session=session, now=now)

    assert feed_server.statuses("/epss.csv.gz") == [200, 304]
    assert first is not None
    assert second is not None
    assert second.scores == first.scores
    assert first_status.state is FeedState.LOADED
    assert second_status.text == "loaded (2025-03-20, less than a day old)"


def test_load_stale_scores(cache_dir: Path) -> None:
    scores, status = load_epss(cache_dir, str(EPSS_FIXTURE), now=SCORED + timedelta(days=8))

    assert scores is not None
    assert status.state is FeedState.STALE
    assert status.text == "stale (2025-03-20, 8 days old)"


def test_load_missing_file(tmp_path: Path, cache_dir: Path) -> None:
    scores, status = load_epss(cache_dir, str(tmp_path / "epss.csv"))

    assert scores is None
    assert status.state is FeedState.MISSING
    assert status.reason is not None
    assert "cannot read feed file" in status.reason
