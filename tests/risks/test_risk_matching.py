"""Applying acceptances to findings: scopes, expiry, and what still gates a run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from risk_samples import POSTGRES_DIGEST, TODAY, acceptance, accepted_ids, postgres_findings

from hullcheck.analysis.models import Severity
from hullcheck.analysis.risks import (
    apply_acceptances,
    expired_acceptances,
    gating_findings,
    without_accepted,
)

IMAGE = "docker.io/library/postgres:16"


def test_any_image_scope() -> None:
    entries = [acceptance("CVE-2023-45853")]

    for image_ref in (IMAGE, "ghcr.io/example/app:1", "redis:7"):
        result = apply_acceptances(postgres_findings(), image_ref, entries, TODAY)
        assert accepted_ids(result) == {"CVE-2023-45853"}


def test_accepted_finding_stays_visible() -> None:
    result = apply_acceptances(postgres_findings(), IMAGE, [acceptance("CVE-2023-45853")], TODAY)

    assert len(result.findings) == 4
    marked = next(f for f in result.findings if f.vulnerability_id == "CVE-2023-45853")
    assert marked.accepted is not None
    assert marked.accepted.reason == "reviewed: the vulnerable code path is not used"


def test_gating_excludes_accepted() -> None:
    result = apply_acceptances(postgres_findings(), IMAGE, [acceptance("CVE-2023-45853")], TODAY)

    gating = gating_findings(result)

    assert [f.vulnerability_id for f in gating] == [
        "CVE-2024-0727",
        "CVE-2023-4911",
        "CVE-2021-44228",
    ]
    assert without_accepted(result).counts().CRITICAL == 1
    assert result.counts().CRITICAL == 2


@pytest.mark.parametrize(
    ("accepted_image", "image_ref", "matches"),
    [
        # Without a tag the entry covers every tag of the repository.
        ("docker.io/library/postgres", "postgres:16", True),
        ("docker.io/library/postgres", "docker.io/library/postgres:17", True),
        ("docker.io/library/postgres", "index.docker.io/library/postgres", True),
        # With a tag it covers that tag only; no tag means latest.
        ("docker.io/library/postgres:16", "postgres:16", True),
        ("docker.io/library/postgres:16", "postgres:17", False),
        ("docker.io/library/postgres:16", "postgres", False),
        ("docker.io/library/postgres:latest", "postgres", True),
        ("docker.io/library/postgres", "ghcr.io/example/postgres:16", False),
        ("docker.io/library/postgres", "docker.io/bitnami/postgres:16", False),
        # A digest matches the reference's digest or one of the repo digests.
        (f"docker.io/library/postgres@{POSTGRES_DIGEST}", "postgres:16", True),
        (f"docker.io/library/postgres@sha256:{'cd' * 32}", "postgres:16", False),
        (f"docker.io/library/postgres@sha256:{'cd' * 32}", f"postgres@sha256:{'cd' * 32}", True),
    ],
)
def test_image_scope(accepted_image: str, image_ref: str, matches: bool) -> None:
    entries = [acceptance("CVE-2023-4911", image=accepted_image)]

    result = apply_acceptances(postgres_findings(), image_ref, entries, TODAY)

    assert accepted_ids(result) == ({"CVE-2023-4911"} if matches else set())


def test_local_image_matches_by_text() -> None:
    entries = [acceptance("CVE-2023-4911", image="Local_Build")]

    assert accepted_ids(apply_acceptances(postgres_findings(), "Local_Build", entries, TODAY)) == {
        "CVE-2023-4911"
    }
    assert accepted_ids(apply_acceptances(postgres_findings(), "other", entries, TODAY)) == set()


@pytest.mark.parametrize(
    ("package", "accepted"),
    [
        ("zlib1g", {"CVE-2023-45853"}),
        ("ZLIB1G", {"CVE-2023-45853"}),
        ("zlib", set()),
        ("pkg:deb/debian/zlib1g", {"CVE-2023-45853"}),
        ("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12", {"CVE-2023-45853"}),
        ("pkg:deb/debian/libc6", set()),
    ],
)
def test_package_scope(package: str, accepted: set[str]) -> None:
    entries = [acceptance("CVE-2023-45853", package=package)]

    result = apply_acceptances(postgres_findings(), IMAGE, entries, TODAY)

    assert accepted_ids(result) == accepted


def test_maven_purl_matches_trivy_name() -> None:
    purl = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    entries = [acceptance("CVE-2021-44228", package=purl)]

    result = apply_acceptances(postgres_findings(), IMAGE, entries, TODAY)

    assert accepted_ids(result) == {"CVE-2021-44228"}


def test_every_package_must_be_covered() -> None:
    # CVE-2024-0727 affects both libssl3 and openssl in the image.
    only_openssl = [acceptance("CVE-2024-0727", package="openssl")]
    both = [*only_openssl, acceptance("CVE-2024-0727", package="pkg:deb/debian/libssl3")]

    partly = apply_acceptances(postgres_findings(), IMAGE, only_openssl, TODAY)
    fully = apply_acceptances(postgres_findings(), IMAGE, both, TODAY)

    assert accepted_ids(partly) == set()
    assert accepted_ids(fully) == {"CVE-2024-0727"}


def test_image_and_package_scope() -> None:
    entries = [acceptance("CVE-2023-45853", image="docker.io/library/postgres", package="zlib1g")]

    in_postgres = apply_acceptances(postgres_findings(), IMAGE, entries, TODAY)
    in_redis = apply_acceptances(postgres_findings(), "redis:7", entries, TODAY)

    assert accepted_ids(in_postgres) == {"CVE-2023-45853"}
    assert accepted_ids(in_redis) == set()


def test_most_specific_mark_wins() -> None:
    broad = acceptance("CVE-2023-45853", expires=date(2026, 12, 31))
    narrow = acceptance("CVE-2023-45853", image="docker.io/library/postgres:16")

    result = apply_acceptances(postgres_findings(), IMAGE, [broad, narrow], TODAY)

    marked = next(f for f in result.findings if f.vulnerability_id == "CVE-2023-45853")
    assert marked.accepted == narrow


def test_id_compared_without_case() -> None:
    entries = [acceptance("cve-2023-4911")]

    assert accepted_ids(apply_acceptances(postgres_findings(), IMAGE, entries, TODAY)) == {
        "CVE-2023-4911"
    }


def test_expiry_day_is_excluded() -> None:
    entry = acceptance("CVE-2023-4911", expires=TODAY + timedelta(days=1))

    day_before = apply_acceptances(postgres_findings(), IMAGE, [entry], TODAY)
    expiry_day = apply_acceptances(postgres_findings(), IMAGE, [entry], entry.expires)

    assert accepted_ids(day_before) == {"CVE-2023-4911"}
    assert accepted_ids(expiry_day) == set()


def test_expired_entry_brings_finding_back() -> None:
    expired = acceptance("CVE-2023-45853", expires=TODAY)

    result = apply_acceptances(postgres_findings(), IMAGE, [expired], TODAY)

    assert accepted_ids(result) == set()
    assert [f.severity for f in gating_findings(result)].count(Severity.CRITICAL) == 2
    assert expired_acceptances(postgres_findings(), IMAGE, [expired], TODAY) == [expired]


def test_expired_listing_skips_covered_findings() -> None:
    expired = acceptance("CVE-2023-45853", expires=TODAY)
    renewed = acceptance("CVE-2023-45853", image="docker.io/library/postgres")

    listed = expired_acceptances(postgres_findings(), IMAGE, [expired, renewed], TODAY)

    assert listed == []


def test_expired_listing_skips_other_images() -> None:
    expired = acceptance("CVE-2023-45853", image="docker.io/library/redis", expires=TODAY)
    absent = acceptance("CVE-2020-0001", expires=TODAY)

    listed = expired_acceptances(postgres_findings(), IMAGE, [expired, absent], TODAY)

    assert listed == []


def test_apply_clears_old_marks() -> None:
    entries = [acceptance("CVE-2023-45853")]
    once = apply_acceptances(postgres_findings(), IMAGE, entries, TODAY)

    again = apply_acceptances(once, IMAGE, [], TODAY)

    assert accepted_ids(once) == {"CVE-2023-45853"}
    assert accepted_ids(again) == set()


def test_apply_returns_new_object() -> None:
    original = postgres_findings()

    apply_acceptances(original, IMAGE, [acceptance("CVE-2023-45853")], TODAY)

    assert accepted_ids(original) == set()
