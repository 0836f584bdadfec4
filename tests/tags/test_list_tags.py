"""``list_tags`` against the lab registry, directly and through a paging front."""

from __future__ import annotations

import pytest
from paging_front import PagingFront
from tag_repository import TaggedRepository

from hullcheck.analysis.versions import newer_tags
from hullcheck.discovery.references import parse_reference
from hullcheck.lab.services import Lab
from hullcheck.registry import (
    CheckFailure,
    HubRateLimitedError,
    RegistryClient,
    RegistryProtocolError,
    RegistryRateLimitError,
    RegistrySettings,
)
from hullcheck.registry.tags import (
    FALLBACK_PAGE_SIZE,
    RepositoryNotFoundError,
    fetch_tags,
    find_newer_tags,
    list_tags,
)


def test_lab_registry_lists_every_tag(
    lab: Lab, tagged_repository: TaggedRepository, registry_client: RegistryClient
) -> None:
    before = len(lab.registry_requests())

    tags = list_tags(registry_client, tagged_repository.reference(), page_size=2)

    # Debian's docker-registry 2.8 ignores n, so one response carries every tag.
    assert sorted(tags) == sorted(tagged_repository.tags)
    sent = lab.registry_requests()[before:]
    path = tagged_repository.repository.partition("/")[2]
    assert [(r.method, r.path, r.status) for r in sent] == [
        ("GET", f"/v2/{path}/tags/list?n=2", 200)
    ]


def test_lab_tags_give_newer_tags(
    tagged_repository: TaggedRepository, registry_client: RegistryClient
) -> None:
    ref = tagged_repository.reference()

    tags = list_tags(registry_client, ref)

    assert newer_tags(ref, tags) == ["2.0.0", "1.1.0", "1.0.1"]


def test_unknown_repository_not_found(lab: Lab, registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{lab.registry}/tests/never-pushed:1")

    with pytest.raises(RepositoryNotFoundError) as raised:
        list_tags(registry_client, ref)

    assert raised.value.failure is CheckFailure.NOT_FOUND
    assert "tests/never-pushed" in raised.value.message
    assert "NAME_UNKNOWN" in raised.value.message


def test_front_pages_follow_link(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front()

    listing = fetch_tags(registry_client, tagged_repository.reference(front.host), page_size=2)

    assert sorted(listing.tags) == sorted(tagged_repository.tags)
    assert listing.truncated is False
    # Seven tags in pages of two: three full pages with a Link header, then the last one.
    requests = front.tag_requests()
    assert listing.pages == 4
    assert len(requests) == 4
    assert [r.query.get("n") for r in requests] == ["2"] * 4
    assert requests[0].query.get("last") is None
    expected_lasts = sorted(tagged_repository.tags)[1:6:2]
    assert [r.query.get("last") for r in requests[1:]] == expected_lasts
    assert [r.query.get("via") for r in requests[1:]] == ["link"] * 3


def test_front_pages_by_last_without_link(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front(send_link=False)

    listing = fetch_tags(registry_client, tagged_repository.reference(front.host), page_size=3)

    assert sorted(listing.tags) == sorted(tagged_repository.tags)
    # Pages of 3, 3 and 1 tags: a short page ends the listing.
    assert listing.pages == 3
    assert all("via" not in r.query for r in front.tag_requests())
    assert [r.query.get("last") for r in front.tag_requests()] == [
        None,
        sorted(tagged_repository.tags)[2],
        sorted(tagged_repository.tags)[5],
    ]


def test_front_exact_last_page_ends(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front(send_link=False)

    listing = fetch_tags(registry_client, tagged_repository.reference(front.host), page_size=7)

    # A full page without Link may be the last one: one more request returns no tags.
    assert sorted(listing.tags) == sorted(tagged_repository.tags)
    assert listing.pages == 2


def test_page_limit_marks_truncated(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front()

    listing = fetch_tags(
        registry_client, tagged_repository.reference(front.host), page_size=2, max_pages=2
    )

    assert listing.truncated is True
    assert listing.tags == tuple(sorted(tagged_repository.tags)[:4])
    assert len(front.tag_requests()) == 2


def test_too_large_page_falls_back(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front(max_page_size=FALLBACK_PAGE_SIZE)

    listing = fetch_tags(registry_client, tagged_repository.reference(front.host))

    assert sorted(listing.tags) == sorted(tagged_repository.tags)
    assert [r.query.get("n") for r in front.tag_requests()] == ["1000", str(FALLBACK_PAGE_SIZE)]


def test_link_to_other_host_rejected(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    # Nothing listens on port 9: the client must reject the link before sending anything.
    front = make_front(link_host="127.0.0.1:9")

    with pytest.raises(RegistryProtocolError) as raised:
        list_tags(registry_client, tagged_repository.reference(front.host), page_size=2)

    assert "127.0.0.1:9" in raised.value.message
    assert len(front.tag_requests()) == 1


def test_bearer_token_for_every_page(
    make_front: type[PagingFront],
    tagged_repository: TaggedRepository,
    registry_client: RegistryClient,
) -> None:
    front = make_front(token_required=True)
    ref = tagged_repository.reference(front.host)

    tags = list_tags(registry_client, ref, page_size=3)

    assert sorted(tags) == sorted(tagged_repository.tags)
    token_requests = [r for r in front.requests if r.path == "/token"]
    assert len(token_requests) == 1
    assert token_requests[0].query["scope"] == f"repository:{ref.repository}:pull"
    pages = front.tag_requests()
    # The first request meets the challenge; the token is reused for every later page.
    assert pages[0].authorization is None
    assert len(pages) == 4
    assert all(page.authorization == pages[1].authorization for page in pages[1:])
    assert pages[1].authorization is not None
    assert pages[1].authorization.startswith("Bearer front-token-")


def test_get_api_rejects_manifest_path(lab: Lab, registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{lab.registry}/tests/app:1")

    with pytest.raises(ValueError, match="manifests"):
        registry_client.get_api(
            ref, "/v2/tests/app/manifests/1", request_label="GET", accept="application/json"
        )


def test_find_newer_tags_on_lab(
    tagged_repository: TaggedRepository, registry_client: RegistryClient
) -> None:
    labels = {"hullcheck.tags.exclude": r"^2\."}

    result = find_newer_tags(registry_client, tagged_repository.reference(), labels)

    assert result.tags == ("1.1.0", "1.0.1")
    assert result.error is None
    assert result.truncated is False


def test_find_newer_tags_latest_sends_nothing(
    lab: Lab, tagged_repository: TaggedRepository, registry_client: RegistryClient
) -> None:
    before = len(lab.registry_requests())

    result = find_newer_tags(registry_client, tagged_repository.reference(tag="latest"))

    assert result.tags == ()
    assert result.error is None
    assert lab.registry_requests()[before:] == []


def test_find_newer_tags_reports_errors(lab: Lab, registry_client: RegistryClient) -> None:
    missing = parse_reference(f"{lab.registry}/tests/never-pushed:1.0.0")

    not_found = find_newer_tags(registry_client, missing)
    invalid_label = find_newer_tags(
        registry_client, missing, {"hullcheck.tags.include": "(unclosed"}
    )

    assert not_found.tags == ()
    assert not_found.error is not None
    assert "not found" in not_found.error
    assert invalid_label.error is not None
    assert "hullcheck.tags.include" in invalid_label.error


def test_hub_rate_limit_stops_listing(
    make_front: type[PagingFront], tagged_repository: TaggedRepository
) -> None:
    front = make_front(rate_limited=True)
    ref = tagged_repository.reference(front.host)
    settings = RegistrySettings(hub_hosts=frozenset({front.host}))

    with RegistryClient(settings) as client:
        with pytest.raises(RegistryRateLimitError) as first:
            list_tags(client, ref)
        with pytest.raises(HubRateLimitedError):
            list_tags(client, ref)

        assert client.hub_rate_limited is True

    assert not isinstance(first.value, HubRateLimitedError)
    assert "429" in first.value.message
    # The second listing sent nothing: one request reached the front in all.
    assert len(front.tag_requests()) == 1
