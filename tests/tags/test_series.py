"""Tag series, newer tags, variants and the tag filter labels, without a registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullcheck.analysis.versions import (
    TAG_EXCLUDE_LABEL,
    TAG_INCLUDE_LABEL,
    SeriesKey,
    TagFilterError,
    lean_markers,
    newer_tags,
    parse_tag,
    variant_tags,
)
from hullcheck.discovery.compose import discover_compose
from hullcheck.discovery.references import parse_reference

# Tags of the kinds real repositories publish, mixed, so each series has to be picked out.
TAGS = [
    "latest",
    "release",
    "stable",
    "alpine",
    "alpine3.21",
    "latest-slim",
    "1.2.3",
    "1.2.4",
    "1.2.10",
    "1.3.0",
    "1.10.0",
    "1.2",
    "1.3",
    "1",
    "2",
    "v1.2.3",
    "v1.3.0",
    "v1.119.0",
    "v1.120.1",
    "16",
    "17",
    "16.4",
    "16.4-alpine",
    "16.5-alpine",
    "17.0-alpine",
    "16.5-bookworm",
    "1.27.3-alpine3.21",
    "1.27.4-alpine3.21",
    "1.27.4-alpine3.22",
    "1.28.0-alpine",
    "1.2.4-rc1",
    "1.2.3-alpine",
    "1.2.3-slim",
    "1.2.3-slim-bookworm",
    "1.2.3-bookworm",
    "1.2.3-distroless",
    "2025.2.4",
    "2025.2.10",
    "2025.10.1",
    "7d3f2a1",
]


@pytest.mark.parametrize(
    ("tag", "series"),
    [
        ("1.2.3", SeriesKey("", 3, "")),
        ("v1.2.3", SeriesKey("v", 3, "")),
        ("1.2", SeriesKey("", 2, "")),
        ("16", SeriesKey("", 1, "")),
        ("16.4-alpine", SeriesKey("", 2, "-alpine")),
        ("1.27.3-alpine3.21", SeriesKey("", 3, "-alpine#.#")),
        ("2025.2.4", SeriesKey("", 3, "")),
        ("v1.119.0", SeriesKey("v", 3, "")),
        ("1.2.3-slim-bookworm", SeriesKey("", 3, "-slim-bookworm")),
        ("1.2.4-rc1", SeriesKey("", 3, "-rc#")),
    ],
)
def test_parse_tag_series(tag: str, series: SeriesKey) -> None:
    parsed = parse_tag(tag)

    assert parsed is not None
    assert parsed.series == series


@pytest.mark.parametrize("tag", ["latest", "release", "stable", "alpine", "alpine3.21", "7d3f2a1"])
def test_tag_without_version_has_no_series(tag: str) -> None:
    assert parse_tag(tag) is None


def test_parse_tag_parts() -> None:
    parsed = parse_tag("v1.27.3-alpine3.21")

    assert parsed is not None
    assert parsed.prefix == "v"
    assert parsed.numbers == (1, 27, 3)
    assert parsed.suffix == "-alpine3.21"
    assert parsed.suffix_numbers == (3, 21)
    assert parsed.version_text == "v1.27.3"


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        # Numeric order: 1.10.0 is newer than 1.3.0, and 2025.2.4 has three parts too.
        ("1.2.3", ["2025.10.1", "2025.2.10", "2025.2.4", "1.10.0", "1.3.0", "1.2.10", "1.2.4"]),
        ("v1.2.3", ["v1.120.1", "v1.119.0", "v1.3.0"]),
        ("1.2", ["16.4", "1.3"]),
        ("16", ["17"]),
        ("16.4-alpine", ["17.0-alpine", "16.5-alpine"]),
        # The Alpine release in the suffix may move with the version.
        ("1.27.3-alpine3.21", ["1.27.4-alpine3.22", "1.27.4-alpine3.21"]),
        ("1.27.4-alpine3.21", ["1.27.4-alpine3.22"]),
        ("2025.2.4", ["2025.10.1", "2025.2.10"]),
        ("v1.120.1", []),
        ("1.2.3-bookworm", []),
        ("latest", []),
        ("release", []),
    ],
)
def test_newer_tags_table(current: str, expected: list[str]) -> None:
    ref = parse_reference(f"example/app:{current}")

    assert newer_tags(ref, TAGS) == expected


def test_newer_tags_without_tag_uses_latest() -> None:
    assert newer_tags(parse_reference("example/app"), TAGS) == []


def test_newer_tags_digest_only_is_empty() -> None:
    ref = parse_reference("example/app@sha256:" + "a" * 64)

    assert newer_tags(ref, TAGS) == []


def test_newer_tags_pinned_uses_tag() -> None:
    ref = parse_reference("example/app:16@sha256:" + "a" * 64)

    assert newer_tags(ref, TAGS) == ["17"]


def test_newer_tags_skips_prerelease_of_release() -> None:
    ref = parse_reference("example/app:1.2.3")

    assert "1.2.4-rc1" not in newer_tags(ref, TAGS)


def test_newer_tags_keeps_duplicates_once() -> None:
    ref = parse_reference("example/app:1.2.3")

    assert newer_tags(ref, ["1.2.4", "1.2.4", "1.2.5"]) == ["1.2.5", "1.2.4"]


def test_include_label_filters_newer() -> None:
    ref = parse_reference("example/app:1.2.3")
    labels = {TAG_INCLUDE_LABEL: r"^1\.2\."}

    assert newer_tags(ref, TAGS, labels) == ["1.2.10", "1.2.4"]


def test_exclude_label_filters_newer() -> None:
    ref = parse_reference("example/app:1.2.3")
    labels = {TAG_EXCLUDE_LABEL: r"^2025\."}

    assert newer_tags(ref, TAGS, labels) == ["1.10.0", "1.3.0", "1.2.10", "1.2.4"]


def test_include_and_exclude_together() -> None:
    ref = parse_reference("example/app:1.2.3")
    labels = {TAG_INCLUDE_LABEL: r"^1\.", TAG_EXCLUDE_LABEL: r"\.10"}

    assert newer_tags(ref, TAGS, labels) == ["1.3.0", "1.2.4"]


def test_include_label_with_anchor_rejects_suffix() -> None:
    ref = parse_reference("example/app:1.2.3-rc1")
    labels = {TAG_INCLUDE_LABEL: r"^\d+\.\d+\.\d+$"}

    assert newer_tags(ref, ["1.2.4-rc1", "1.2.5-rc2"], labels) == []


def test_invalid_label_raises_with_name() -> None:
    ref = parse_reference("example/app:1.2.3")

    with pytest.raises(TagFilterError) as raised:
        newer_tags(ref, TAGS, {TAG_INCLUDE_LABEL: "^(1\\."})

    assert TAG_INCLUDE_LABEL in raised.value.message
    assert "^(1\\." in raised.value.message


def test_compose_label_dollar_escape(tmp_path: Path) -> None:
    # In a compose file "$$" is a literal "$": the anchor must survive, or 1.2.4-beta1 matches.
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  web:\n"
        "    image: example/web:1.2.3\n"
        "    labels:\n"
        '      - "hullcheck.tags.include=^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$$"\n'
    )
    result = discover_compose([tmp_path], environ={})
    [service] = result.services
    assert service.labels[TAG_INCLUDE_LABEL] == r"^\d+\.\d+\.\d+$"
    assert service.image is not None

    tags = ["1.2.4", "1.2.4-beta1", "1.2.5beta", "1.3.0"]

    assert newer_tags(service.image, tags, service.labels) == ["1.3.0", "1.2.4"]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("1.2.3", ["1.2.3-alpine", "1.2.3-slim", "1.2.3-distroless"]),
        # The variant that keeps the Debian release of the current tag wins.
        ("1.2.3-bookworm", ["1.2.3-alpine", "1.2.3-slim-bookworm", "1.2.3-distroless"]),
        # Already alpine: only markers the current tag lacks count.
        ("1.2.3-alpine", ["1.2.3-slim", "1.2.3-distroless"]),
        ("16.4", ["16.4-alpine"]),
        ("latest", ["alpine", "latest-slim"]),
        ("1.2.4", []),
        ("release", []),
    ],
)
def test_variant_tags_table(current: str, expected: list[str]) -> None:
    ref = parse_reference(f"example/app:{current}")

    assert variant_tags(ref, TAGS) == expected


def test_variant_prefers_plain_marker() -> None:
    ref = parse_reference("example/app:1.27.3")
    tags = ["1.27.3-alpine3.20", "1.27.3-alpine3.21", "1.27.3-alpine", "1.27.3-alpine-perl"]

    assert variant_tags(ref, tags) == ["1.27.3-alpine"]


def test_variant_prefers_newest_alpine_release() -> None:
    ref = parse_reference("example/app:1.27.3")
    tags = ["1.27.3-alpine3.20", "1.27.3-alpine3.21", "1.27.3-alpine3.9"]

    assert variant_tags(ref, tags) == ["1.27.3-alpine3.21"]


def test_variant_needs_separator_after_version() -> None:
    ref = parse_reference("example/app:1.2.3")

    assert variant_tags(ref, ["1.2.30-alpine", "1.2.3alpine"]) == []


def test_variant_honours_exclude_not_include() -> None:
    ref = parse_reference("example/app:1.2.3")
    labels = {TAG_INCLUDE_LABEL: r"^\d+\.\d+\.\d+$", TAG_EXCLUDE_LABEL: "distroless"}

    assert variant_tags(ref, TAGS, labels) == ["1.2.3-alpine", "1.2.3-slim"]


@pytest.mark.parametrize(
    ("suffix", "markers"),
    [
        ("-alpine", {"alpine"}),
        ("-alpine3.21", {"alpine"}),
        ("-slim-bookworm", {"slim"}),
        ("-alpine-slim", {"alpine", "slim"}),
        ("-distroless", {"distroless"}),
        ("-bookworm", set()),
        ("-alpineish", set()),
    ],
)
def test_lean_markers_table(suffix: str, markers: set[str]) -> None:
    assert lean_markers(suffix) == markers
