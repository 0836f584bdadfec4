"""Tag lists from ``GET /v2/<name>/tags/list``, page by page.

Docker Hub counts only manifest GETs as pulls, so a tag list GET does not use up its pull
limit. Paging follows the distribution spec: ask for ``n`` tags, then follow the
``Link: <...>; rel="next"`` header. A registry that honours ``n`` but sends no Link header
is asked for the next page with ``last=<last tag seen>``. A registry that ignores ``n``
(Debian's docker-registry 2.8 does) returns every tag in one response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from hullcheck.analysis.versions import TagFilter, TagFilterError, newer_tags, parse_tag
from hullcheck.discovery.models import ImageReference
from hullcheck.registry.client import RegistryClient
from hullcheck.registry.errors import RegistryError, RegistryProtocolError
from hullcheck.registry.models import CheckFailure

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000
"""Tags asked for per request.

NOTE: 1000 is distribution 3's default maximum as its error text and client code describe
it; no distribution 3 server was run here. A larger ``n`` gets PAGINATION_NUMBER_INVALID.
"""
FALLBACK_PAGE_SIZE = 100
"""Page size used once after a registry rejects ``DEFAULT_PAGE_SIZE`` as too large."""
DEFAULT_MAX_PAGES = 50
"""Requests per tag list before the listing stops and is marked truncated."""

TAGS_ACCEPT = "application/json"
_PAGINATION_NUMBER_INVALID = "PAGINATION_NUMBER_INVALID"


class RepositoryNotFoundError(RegistryError):
    """HTTP 404 for a tag list: the repository does not exist, or is private."""

    failure = CheckFailure.NOT_FOUND


@dataclass(frozen=True)
class TagListing:
    """Every tag a registry listed for one repository, in the registry's order."""

    repository: str
    """``registry/repository``, as ``ImageReference.name``."""
    tags: tuple[str, ...]
    pages: int
    """Requests sent, including one retry with a smaller page size."""
    truncated: bool = False
    """True when ``max_pages`` ran out before the registry's last page."""


@dataclass(frozen=True)
class NewerTags:
    """Newer tags of an image's series, for a report next to its digest check."""

    tags: tuple[str, ...] = ()
    """Newest first; empty when the tag has no series or the check failed."""
    error: str | None = None
    """Why the check failed: a registry error or an invalid tag filter label."""
    truncated: bool = False


def find_newer_tags(
    client: RegistryClient, ref: ImageReference, labels: Mapping[str, str] | None = None
) -> NewerTags:
    """List ``ref``'s tags and return the newer ones of its series; never raises.

    No request is sent for a tag without a version (``latest``), which has no series.
    ``labels`` are the service labels with the tag filters. This only reports: no tag is
    ever switched.
    """
    tag = ref.effective_tag
    if tag is None or parse_tag(tag) is None:
        return NewerTags()
    try:
        # An invalid filter label fails before any request is sent.
        TagFilter.from_labels(labels)
        listing = fetch_tags(client, ref)
        newer = newer_tags(ref, listing.tags, labels)
    except (RegistryError, TagFilterError) as error:
        logger.warning("%s: newer tags not checked: %s", ref.normalized, error)
        return NewerTags(error=str(error))
    return NewerTags(tuple(newer), truncated=listing.truncated)


def list_tags(
    client: RegistryClient,
    ref: ImageReference,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> list[str]:
    """Return every tag of ``ref``'s repository; see ``fetch_tags``."""
    return list(fetch_tags(client, ref, page_size=page_size, max_pages=max_pages).tags)


def fetch_tags(
    client: RegistryClient,
    ref: ImageReference,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> TagListing:
    """List the tags of ``ref``'s repository with at most ``max_pages`` requests.

    Raises RepositoryNotFoundError for a 404 and another RegistryError subclass for every
    other failure, after the same Bearer or Basic flow as manifest checks.
    """
    if page_size < 1 or max_pages < 1:
        raise ValueError(
            f"page_size and max_pages must be at least 1, not {page_size}, {max_pages}"
        )
    host = ref.api_host
    base_path = f"/v2/{ref.repository}/tags/list"
    path = f"{base_path}?{urlencode({'n': page_size})}"
    requested_size = page_size
    tags: list[str] = []
    seen: set[str] = set()
    visited: set[str] = set()
    pages = 0

    while True:
        if pages >= max_pages:
            logger.warning(
                "%s: stopped listing tags after %d requests (%d tags); newer tags may be missing",
                ref.name,
                pages,
                len(tags),
            )
            return TagListing(ref.name, tuple(tags), pages, truncated=True)
        visited.add(path)
        pages += 1
        request_label = f"GET {host}{path}"
        response = client.get_api(ref, path, request_label=request_label, accept=TAGS_ACCEPT)

        if _rejects_page_size(response) and requested_size > FALLBACK_PAGE_SIZE and not tags:
            logger.info(
                "%s: the registry rejected n=%d; asking for %d tags per page",
                ref.name,
                requested_size,
                FALLBACK_PAGE_SIZE,
            )
            requested_size = FALLBACK_PAGE_SIZE
            path = f"{base_path}?{urlencode({'n': requested_size})}"
            continue
        if response.status_code == 404:
            raise _not_found(response, request_label, ref, client)
        if response.status_code != 200:
            raise RegistryProtocolError(
                f"{request_label}: unexpected HTTP {response.status_code}"
                + _detail_suffix(response, client)
            )

        page = _page_tags(response, request_label)
        new_tags = [tag for tag in page if tag not in seen]
        tags.extend(new_tags)
        seen.update(new_tags)

        next_path = _next_path(response, request_label, client, ref)
        if next_path is None and page and len(page) == requested_size:
            # The registry honoured n but sent no Link header, so ask for the tags after the
            # last one seen.
            query = urlencode({"n": requested_size, "last": page[-1]})
            next_path = f"{base_path}?{query}"
        if next_path is None or not new_tags or next_path in visited:
            # No new tag, or a page seen before, means the registry ignores last= or loops.
            logger.debug("%s: %d tags in %d requests", ref.name, len(tags), pages)
            return TagListing(ref.name, tuple(tags), pages)
        path = next_path


def _rejects_page_size(response: requests.Response) -> bool:
    """True for a 400 with code PAGINATION_NUMBER_INVALID: ``n`` is above the maximum."""
    if response.status_code != 400:
        return False
    try:
        document = json.loads(response.content or b"null")
    except ValueError:
        return False
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(item, dict) and item.get("code") == _PAGINATION_NUMBER_INVALID for item in errors
    )


def _page_tags(response: requests.Response, request_label: str) -> list[str]:
    try:
        document = json.loads(response.content)
    except ValueError as error:
        raise RegistryProtocolError(f"{request_label}: the tag list is not JSON") from error
    if not isinstance(document, dict):
        raise RegistryProtocolError(f"{request_label}: the tag list is not a JSON object")
    tags = document.get("tags")
    # A repository without tags may come back as "tags": null rather than an empty list.
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise RegistryProtocolError(f"{request_label}: 'tags' is not a list")
    return [tag for tag in tags if isinstance(tag, str) and tag]


def _next_path(
    response: requests.Response,
    request_label: str,
    client: RegistryClient,
    ref: ImageReference,
) -> str | None:
    """Return the path and query of the ``rel="next"`` link, or None on the last page.

    The link may be relative or absolute. An absolute link to another host is rejected,
    because following it would send the registry's token to that host.
    """
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    base = client.settings.base_url(ref.api_host)
    target = urlsplit(urljoin(f"{base}/v2/", link))
    expected = urlsplit(base)
    if (target.scheme, target.netloc) != (expected.scheme, expected.netloc):
        raise RegistryProtocolError(
            f"{request_label}: the next-page link points to {target.scheme}://{target.netloc}, "
            f"not to {base}",
            hint="hullcheck only follows tag list links on the registry's own host",
        )
    if not target.path.startswith("/v2/"):
        raise RegistryProtocolError(
            f"{request_label}: the next-page link {link!r} is not a /v2/ API path"
        )
    return f"{target.path}?{target.query}" if target.query else target.path


def _not_found(
    response: requests.Response,
    request_label: str,
    ref: ImageReference,
    client: RegistryClient,
) -> RepositoryNotFoundError:
    return RepositoryNotFoundError(
        f"{request_label}: HTTP 404, repository {ref.repository} not found"
        + _detail_suffix(response, client),
        hint=f"check the image name; a private repository needs `docker login {ref.registry}`",
    )


def _detail_suffix(response: requests.Response, client: RegistryClient) -> str:
    detail = client.error_detail(response)
    return f" ({detail})" if detail else ""
