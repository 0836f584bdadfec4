"""Candidate selection and advise targets, without the lab."""

from __future__ import annotations

import pytest

from hullcheck.advise import AdviseError, AdviseOptions, AdviseTarget, CandidateKind, candidate_tags
from hullcheck.analysis.versions import TagFilterError
from hullcheck.discovery.models import ServiceImage
from hullcheck.discovery.references import parse_reference

TAGS = [
    "latest",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.2.0",
    "2.0.0",
    "1.0.0-alpine",
    "1.0.0-slim",
    "1.1.0-alpine",
    "2.0.0-rc1",
]


def test_newest_first_then_variants() -> None:
    ref = parse_reference("example/app:1.0.0")

    chosen = candidate_tags(ref, TAGS, {}, AdviseOptions())

    assert chosen == [
        ("2.0.0", CandidateKind.NEWER),
        ("1.2.0", CandidateKind.NEWER),
        ("1.1.0", CandidateKind.NEWER),
        ("1.0.0-alpine", CandidateKind.VARIANT),
        ("1.0.0-slim", CandidateKind.VARIANT),
    ]


def test_max_candidates_limits_newer_only() -> None:
    ref = parse_reference("example/app:1.0.0")

    chosen = candidate_tags(ref, TAGS, {}, AdviseOptions(max_candidates=1))

    assert [tag for tag, _ in chosen] == ["2.0.0", "1.0.0-alpine", "1.0.0-slim"]


def test_no_variants_and_zero_newer() -> None:
    ref = parse_reference("example/app:1.0.0")

    chosen = candidate_tags(ref, TAGS, {}, AdviseOptions(max_candidates=0, variants=False))

    assert chosen == []


def test_labels_filter_candidates() -> None:
    ref = parse_reference("example/app:1.0.0")
    labels = {"hullcheck.tags.exclude": r"^2\.|slim"}

    chosen = candidate_tags(ref, TAGS, labels, AdviseOptions())

    assert [tag for tag, _ in chosen] == ["1.2.0", "1.1.0", "1.0.1", "1.0.0-alpine"]


def test_invalid_label_raises() -> None:
    ref = parse_reference("example/app:1.0.0")

    with pytest.raises(TagFilterError):
        candidate_tags(ref, TAGS, {"hullcheck.tags.include": "[1-"}, AdviseOptions())


def test_latest_gets_variants_only() -> None:
    ref = parse_reference("example/app")

    chosen = candidate_tags(ref, [*TAGS, "alpine", "slim"], {}, AdviseOptions())

    assert chosen == [("alpine", CandidateKind.VARIANT), ("slim", CandidateKind.VARIANT)]


def test_target_from_service_keeps_labels() -> None:
    service = ServiceImage(
        project="shop",
        service="web",
        image=parse_reference("example/app:1.0.0"),
        labels={"hullcheck.tags.include": r"^\d+$"},
        running_image_id="sha256:" + "b" * 64,
    )

    target = AdviseTarget.from_service(service)

    assert target.service == "shop/web"
    assert target.labels == {"hullcheck.tags.include": r"^\d+$"}
    assert target.running_image_id == "sha256:" + "b" * 64


def test_target_from_local_build_rejected() -> None:
    service = ServiceImage(
        project="shop", service="proxy", local_build=True, local_image_name="shop-proxy"
    )

    with pytest.raises(AdviseError) as raised:
        AdviseTarget.from_service(service)

    assert "shop/proxy" in raised.value.message
    assert "built locally" in raised.value.message
