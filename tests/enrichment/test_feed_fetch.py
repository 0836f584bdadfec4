"""Fetching feeds: conditional requests against a real HTTP server, the cache, local files."""

from __future__ import annotations

import json
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from feed_fixtures import KEV_FIXTURE, FeedServer, Resource

from hullcheck.analysis.enrichment import feeds
from hullcheck.analysis.enrichment.feeds import FeedError, fetch_feed

FIRST = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
LAST_MODIFIED = "Tue, 21 Nov 2023 17:00:00 GMT"


def _serve(server: FeedServer, body: bytes, **validators: str) -> str:
    server.resources["/kev.json"] = Resource(body=body, **validators)  # type: ignore[arg-type]
    return server.url("/kev.json")


def test_first_fetch_stores_body_and_validators(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    url = _serve(feed_server, body, etag='"v1"', last_modified=LAST_MODIFIED)

    document = fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)

    assert document.body == body
    assert document.from_cache is False
    assert document.fetched_at == FIRST
    assert (cache_dir / "kev.body").read_bytes() == body
    meta = json.loads((cache_dir / "kev.meta.json").read_text())
    assert meta["url"] == url
    assert meta["etag"] == '"v1"'
    assert meta["last_modified"] == LAST_MODIFIED
    assert meta["fetched_at"] == FIRST.isoformat()


def test_etag_304_reuses_cache(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    url = _serve(feed_server, body, etag='"v1"')
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)

    document = fetch_feed("KEV", url, cache_dir, session=session, now=LATER)

    assert feed_server.statuses("/kev.json") == [200, 304]
    assert feed_server.requests[1].headers.get("If-None-Match") == '"v1"'
    assert document.body == body
    assert document.from_cache is True
    assert document.warning is None
    # A 304 confirms the copy, so its fetch time moves on.
    assert document.fetched_at == LATER
    assert json.loads((cache_dir / "kev.meta.json").read_text())["fetched_at"] == LATER.isoformat()


def test_last_modified_304_reuses_cache(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    url = _serve(feed_server, body, last_modified=LAST_MODIFIED)
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)

    document = fetch_feed("KEV", url, cache_dir, session=session, now=LATER)

    assert feed_server.statuses("/kev.json") == [200, 304]
    assert feed_server.requests[1].headers.get("If-Modified-Since") == LAST_MODIFIED
    assert "If-None-Match" not in feed_server.requests[1].headers
    assert document.body == body
    assert document.from_cache is True


def test_changed_feed_replaces_cache(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    url = _serve(feed_server, b'{"vulnerabilities": []}', etag='"v1"')
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)
    new_body = KEV_FIXTURE.read_bytes()
    _serve(feed_server, new_body, etag='"v2"')

    document = fetch_feed("KEV", url, cache_dir, session=session, now=LATER)

    assert feed_server.statuses("/kev.json") == [200, 200]
    assert document.body == new_body
    assert document.from_cache is False
    assert (cache_dir / "kev.body").read_bytes() == new_body
    assert json.loads((cache_dir / "kev.meta.json").read_text())["etag"] == '"v2"'


def test_server_error_falls_back_to_cache(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    url = _serve(feed_server, body, etag='"v1"')
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)
    feed_server.resources["/kev.json"].status = 503

    document = fetch_feed("KEV", url, cache_dir, session=session, now=LATER)

    assert document.body == body
    assert document.from_cache is True
    assert document.fetched_at == FIRST
    assert document.warning is not None
    assert "HTTP 503" in document.warning
    assert "2026-03-01 06:00" in document.warning


def test_server_error_without_cache_raises(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    url = _serve(feed_server, b"", status=500)  # type: ignore[arg-type]

    with pytest.raises(FeedError, match="HTTP 500"):
        fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)


def test_unreachable_server_raises(session: requests.Session, cache_dir: Path) -> None:
    # Bind and close a socket so the port is known to have no listener.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    with pytest.raises(FeedError, match="connection failed"):
        fetch_feed("KEV", f"http://127.0.0.1:{port}/kev.json", cache_dir, session=session)


def test_cache_of_other_url_ignored(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    feed_server.resources["/old.json"] = Resource(body=body, etag='"v1"')
    feed_server.resources["/new.json"] = Resource(body=body, etag='"v1"')
    fetch_feed("KEV", feed_server.url("/old.json"), cache_dir, session=session, now=FIRST)

    fetch_feed("KEV", feed_server.url("/new.json"), cache_dir, session=session, now=LATER)

    assert feed_server.statuses("/new.json") == [200]
    assert "If-None-Match" not in feed_server.requests[1].headers


def test_damaged_cache_ignored(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    body = KEV_FIXTURE.read_bytes()
    url = _serve(feed_server, body, etag='"v1"')
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)
    (cache_dir / "kev.body").write_bytes(b"truncated")

    document = fetch_feed("KEV", url, cache_dir, session=session, now=LATER)

    assert feed_server.statuses("/kev.json") == [200, 200]
    assert "If-None-Match" not in feed_server.requests[1].headers
    assert document.body == body


def test_cache_files_private(
    feed_server: FeedServer, session: requests.Session, cache_dir: Path
) -> None:
    url = _serve(feed_server, KEV_FIXTURE.read_bytes(), etag='"v1"')
    fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)

    for name in ("kev.body", "kev.meta.json"):
        assert stat.S_IMODE((cache_dir / name).stat().st_mode) == 0o600


def test_oversized_body_rejected(
    feed_server: FeedServer,
    session: requests.Session,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 100)
    url = _serve(feed_server, b"x" * 1000)

    with pytest.raises(FeedError, match="more than 100 bytes"):
        fetch_feed("KEV", url, cache_dir, session=session, now=FIRST)
    assert not (cache_dir / "kev.body").exists()


def test_local_path_read(cache_dir: Path) -> None:
    document = fetch_feed("KEV", str(KEV_FIXTURE), cache_dir)

    assert document.body == KEV_FIXTURE.read_bytes()
    assert document.from_cache is False
    assert document.fetched_at == datetime.fromtimestamp(KEV_FIXTURE.stat().st_mtime, UTC)
    assert not cache_dir.exists()


def test_file_url_read(cache_dir: Path) -> None:
    document = fetch_feed("KEV", KEV_FIXTURE.as_uri(), cache_dir)

    assert document.body == KEV_FIXTURE.read_bytes()


def test_missing_local_file_raises(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(FeedError, match="cannot read feed file"):
        fetch_feed("KEV", str(tmp_path / "absent.json"), cache_dir)


def test_file_url_with_host_rejected(cache_dir: Path) -> None:
    with pytest.raises(FeedError, match="names the host"):
        fetch_feed("KEV", "file://example.org/kev.json", cache_dir)


def test_unsupported_scheme_rejected(cache_dir: Path) -> None:
    with pytest.raises(FeedError, match="unsupported KEV feed location"):
        fetch_feed("KEV", "ftp://127.0.0.1/kev.json", cache_dir)
