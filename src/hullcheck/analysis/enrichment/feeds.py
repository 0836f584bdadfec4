"""Fetch a feed over HTTP with conditional requests and a local cache, or read a local file.

A cached feed is two files in the cache directory: ``NAME.body`` contains the bytes as the
server sent them, and ``NAME.meta.json`` contains the URL, the ``ETag`` and
``Last-Modified`` validators, the SHA-256 of the body and the time of the last successful
request. The next fetch sends ``If-None-Match`` and ``If-Modified-Since``, so a ``304 Not
Modified`` reuses the cached body without downloading it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests

from hullcheck import __version__
from hullcheck.errors import HullcheckError
from hullcheck.fileio import write_atomic

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 256 * 1024 * 1024
"""Largest body accepted from a server or a file, so a broken server cannot fill the disk.

NOTE: a guard, not a measured bound: it is far above the size of either feed as known
when this was written, and may need raising if a feed grows by orders of magnitude.
"""

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
"""Maximum wait for the next bytes of a response, not for the whole download."""

_CHUNK_BYTES = 64 * 1024


class FeedError(HullcheckError):
    """A feed could not be fetched, read or parsed."""


@dataclass(frozen=True)
class FeedDocument:
    """The bytes of a feed and where they came from."""

    body: bytes
    location: str
    """The URL or file path that was asked for."""
    fetched_at: datetime
    """Time of the last successful request, or the modification time of a local file."""
    from_cache: bool = False
    """True when the body is the cached copy: after a 304, or after a failed request."""
    warning: str | None = None
    """Reason a cached copy was used after a failed request; None when the request worked."""


def fetch_feed(
    name: str,
    location: str,
    cache_dir: Path,
    *,
    session: requests.Session | None = None,
    now: datetime | None = None,
) -> FeedDocument:
    """Return the feed at ``location``: an http(s) URL, a ``file://`` URL or a file path.

    A URL goes through the cache ``cache_dir/NAME.*``. When the request fails and a cached
    copy of the same URL exists, that copy is returned with ``warning`` set. Raises
    FeedError when no body can be had.
    """
    moment = now or datetime.now(UTC)
    scheme = urlsplit(location).scheme.lower()
    if scheme in {"http", "https"}:
        return _fetch_http(name, location, cache_dir, session=session, now=moment)
    if scheme == "file":
        return _read_file(location, _file_url_path(location))
    # One letter is a Windows drive, as in C:\feeds\kev.json.
    if scheme and len(scheme) > 1:
        raise FeedError(
            f"unsupported {name} feed location {location!r}",
            hint="give an http:// or https:// URL, a file:// URL or a local file path",
        )
    return _read_file(location, Path(location).expanduser())


def _file_url_path(location: str) -> Path:
    parts = urlsplit(location)
    if parts.netloc not in {"", "localhost"}:
        raise FeedError(
            f"file URL {location!r} names the host {parts.netloc!r}",
            hint="use file:///absolute/path for a file on this machine",
        )
    return Path(url2pathname(unquote(parts.path)))


def _read_file(location: str, path: Path) -> FeedDocument:
    try:
        details = path.stat()
        if details.st_size > MAX_FEED_BYTES:
            raise FeedError(
                f"feed file {path} is {details.st_size} bytes, more than the limit of "
                f"{MAX_FEED_BYTES}",
                hint="check that the path names the feed file",
            )
        body = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise FeedError(
            f"cannot read feed file {path}: {reason}",
            hint="check the path, or download the feed to that file first",
        ) from error
    modified = datetime.fromtimestamp(details.st_mtime, UTC)
    return FeedDocument(body=body, location=location, fetched_at=modified)


@dataclass(frozen=True)
class _CacheEntry:
    body: bytes
    url: str
    etag: str | None
    last_modified: str | None
    fetched_at: datetime


def _fetch_http(
    name: str,
    url: str,
    cache_dir: Path,
    *,
    session: requests.Session | None,
    now: datetime,
) -> FeedDocument:
    cached = _read_cache(cache_dir, name, url)
    headers = {"User-Agent": f"hullcheck/{__version__}"}
    if cached is not None and cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached is not None and cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified

    client = session or requests.Session()
    try:
        body, response = _download(client, url, headers)
    except FeedError as error:
        if cached is None:
            raise
        logger.warning("Using the cached %s feed fetched at %s: %s", name, cached.fetched_at, error)
        return FeedDocument(
            body=cached.body,
            location=url,
            fetched_at=cached.fetched_at,
            from_cache=True,
            warning=f"{error}; using the copy fetched {cached.fetched_at:%Y-%m-%d %H:%M} UTC",
        )
    finally:
        if session is None:
            client.close()

    if body is None and cached is not None:
        logger.debug("The %s feed at %s is not modified; reusing the cache", name, url)
        revalidated = replace(cached, fetched_at=now)
        _write_cache(cache_dir, name, revalidated, body_changed=False)
        return FeedDocument(body=cached.body, location=url, fetched_at=now, from_cache=True)
    if body is None:
        raise FeedError(
            f"{url} responded 304 Not Modified to a request without validators",
            hint="the server or a proxy on the way misbehaves; try again or use a file",
        )

    entry = _CacheEntry(
        body=body,
        url=url,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        fetched_at=now,
    )
    _write_cache(cache_dir, name, entry, body_changed=True)
    logger.info("Downloaded the %s feed from %s (%d bytes)", name, url, len(body))
    return FeedDocument(body=body, location=url, fetched_at=now)


def _download(
    client: requests.Session, url: str, headers: dict[str, str]
) -> tuple[bytes | None, requests.Response]:
    """Return the body of a 200 response, or None for a 304."""
    try:
        with client.get(
            url,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            stream=True,
        ) as response:
            if response.status_code == 304:
                return None, response
            if response.status_code != 200:
                raise FeedError(
                    f"{url} responded with HTTP {response.status_code} {response.reason or ''}".rstrip(),
                    hint="check the URL, or use a local copy of the feed",
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FeedError(
                        f"{url} sent more than {MAX_FEED_BYTES} bytes",
                        hint="check that the URL names the feed",
                    )
                chunks.append(chunk)
            return b"".join(chunks), response
    except requests.RequestException as error:
        raise FeedError(
            f"cannot fetch {url}: {_describe(error)}",
            hint="check the network, or use a local copy of the feed",
        ) from error


def _describe(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


def _paths(cache_dir: Path, name: str) -> tuple[Path, Path]:
    stem = name.lower()
    return cache_dir / f"{stem}.body", cache_dir / f"{stem}.meta.json"


def _read_cache(cache_dir: Path, name: str, url: str) -> _CacheEntry | None:
    """Return the cached copy of ``url``, or None when it is missing, foreign or damaged."""
    body_path, meta_path = _paths(cache_dir, name)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        body = body_path.read_bytes()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("Ignoring the unreadable %s feed cache in %s: %s", name, cache_dir, error)
        return None
    if not isinstance(meta, dict) or meta.get("url") != url:
        return None
    # The body and the metadata are two renames, so a crash between them can pair a new
    # body with old validators; the hash catches that.
    if meta.get("sha256") != hashlib.sha256(body).hexdigest():
        logger.warning(
            "Ignoring the %s feed cache in %s: body and metadata differ", name, cache_dir
        )
        return None
    try:
        fetched_at = datetime.fromisoformat(str(meta["fetched_at"]))
    except (KeyError, ValueError):
        return None
    return _CacheEntry(
        body=body,
        url=url,
        etag=_text_or_none(meta.get("etag")),
        last_modified=_text_or_none(meta.get("last_modified")),
        fetched_at=fetched_at,
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _write_cache(cache_dir: Path, name: str, entry: _CacheEntry, *, body_changed: bool) -> None:
    """Store the body and its validators; a failure only costs a download next time."""
    body_path, meta_path = _paths(cache_dir, name)
    meta = {
        "url": entry.url,
        "etag": entry.etag,
        "last_modified": entry.last_modified,
        "sha256": hashlib.sha256(entry.body).hexdigest(),
        "fetched_at": entry.fetched_at.isoformat(),
    }
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        if body_changed:
            write_atomic(body_path, entry.body)
        write_atomic(meta_path, json.dumps(meta, indent=2) + "\n")
    except (OSError, HullcheckError) as error:
        logger.warning("Cannot cache the %s feed in %s: %s", name, cache_dir, error)
