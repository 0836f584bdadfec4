"""Version-shaped tags: which tags form a series with the current one, and which are newer.

A tag such as ``v1.27.3-alpine3.21`` splits into an optional ``v`` prefix, numeric
components (``1.27.3``) and a suffix (``-alpine3.21``). Two tags are in the same series
when they have the same prefix, the same number of numeric components and the same suffix
once each digit run in it is replaced by a placeholder. So ``1.27.4-alpine3.22`` follows
``1.27.3-alpine3.21``, while ``1.27``, ``v1.27.4`` and ``1.27.4-rc1`` do not. Versions
compare component by component as integers (``1.10`` is newer than ``1.9``), then by the
numbers in the suffix. Tags without a leading version (``latest``, ``release``, ``alpine``)
have no series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hullcheck.discovery.models import ImageReference
from hullcheck.errors import ConfigurationError

TAG_INCLUDE_LABEL = "hullcheck.tags.include"
"""Service label: a regular expression that a tag must match (``re.search``) to be reported."""
TAG_EXCLUDE_LABEL = "hullcheck.tags.exclude"
"""Service label: a regular expression whose matching tags are never reported."""

LEAN_MARKERS = ("alpine", "slim", "distroless")
"""Suffix words that mark a smaller image variant of the same version."""

# The suffix must start with a separator, so "7d3f2a1" (a commit hash) is not version 7.
_VERSION_TAG = re.compile(r"(?P<prefix>v?)(?P<numbers>\d+(?:\.\d+)*)(?P<suffix>(?:[-_.+].*)?)")
_DIGITS = re.compile(r"\d+")
_SUFFIX_WORD = re.compile(r"[-_.+]")
_LEAN_WORD = re.compile(r"(?P<marker>alpine|slim|distroless)\d*")


class TagFilterError(ConfigurationError):
    """A tag filter label is not a valid regular expression."""


@dataclass(frozen=True)
class SeriesKey:
    """The shape that every tag of one series has."""

    prefix: str
    components: int
    suffix_shape: str
    """The suffix with each digit run replaced by ``#``: ``-alpine#.#``."""


@dataclass(frozen=True)
class TagVersion:
    """A tag that starts with a version."""

    tag: str
    prefix: str
    numbers: tuple[int, ...]
    suffix: str
    suffix_numbers: tuple[int, ...]

    @property
    def series(self) -> SeriesKey:
        return SeriesKey(self.prefix, len(self.numbers), _DIGITS.sub("#", self.suffix))

    @property
    def order(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Sort key within a series: the version first, then the numbers in the suffix."""
        return self.numbers, self.suffix_numbers

    @property
    def version_text(self) -> str:
        """The tag without its suffix: ``v1.2.3`` for ``v1.2.3-alpine``."""
        return self.tag[: len(self.tag) - len(self.suffix)]


def parse_tag(tag: str) -> TagVersion | None:
    """Split a tag into prefix, version and suffix; None for tags without a version."""
    match = _VERSION_TAG.fullmatch(tag)
    if match is None:
        return None
    suffix = match.group("suffix")
    return TagVersion(
        tag=tag,
        prefix=match.group("prefix"),
        numbers=tuple(int(part) for part in match.group("numbers").split(".")),
        suffix=suffix,
        suffix_numbers=tuple(int(run) for run in _DIGITS.findall(suffix)),
    )


@dataclass(frozen=True)
class TagFilter:
    """The include and exclude expressions of one service, from its labels."""

    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None

    @classmethod
    def from_labels(cls, labels: Mapping[str, str] | None) -> TagFilter:
        """Compile the tag filter labels; raise TagFilterError for an invalid expression."""
        labels = labels or {}
        return cls(
            include=_compile(labels, TAG_INCLUDE_LABEL),
            exclude=_compile(labels, TAG_EXCLUDE_LABEL),
        )

    def allows(self, tag: str) -> bool:
        if self.include is not None and self.include.search(tag) is None:
            return False
        return self.exclude is None or self.exclude.search(tag) is None

    def excludes(self, tag: str) -> bool:
        return self.exclude is not None and self.exclude.search(tag) is not None


def _compile(labels: Mapping[str, str], name: str) -> re.Pattern[str] | None:
    text = labels.get(name)
    if text is None or not text.strip():
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise TagFilterError(
            # Quoted as written, not with repr(), which would double every backslash.
            f'invalid regular expression in label {name}="{text}": {error}',
            hint="fix the label; in a compose file write $$ for a literal $, as in ^\\d+\\.\\d+$$",
        ) from error


def newer_tags(
    ref: ImageReference, tags: Iterable[str], labels: Mapping[str, str] | None = None
) -> list[str]:
    """Return the tags of ``ref``'s series that are newer than its tag, newest first.

    ``labels`` are the service labels; ``hullcheck.tags.include`` and
    ``hullcheck.tags.exclude`` filter the result. A tag without a version, such as
    ``latest``, and a digest-only reference have no series, so the result is empty.
    Raises TagFilterError for an invalid filter expression.
    """
    tag_filter = TagFilter.from_labels(labels)
    current_tag = ref.effective_tag
    current = parse_tag(current_tag) if current_tag else None
    if current is None:
        return []
    newer: list[TagVersion] = []
    for tag in dict.fromkeys(tags):
        candidate = parse_tag(tag)
        if candidate is None or candidate.series != current.series:
            continue
        if candidate.order <= current.order or not tag_filter.allows(tag):
            continue
        newer.append(candidate)
    # Equal versions ("01" and "1") keep a stable order through the tag text.
    newer.sort(key=lambda version: (version.order, version.tag), reverse=True)
    return [version.tag for version in newer]


def lean_markers(suffix: str) -> frozenset[str]:
    """Return the lean markers among the words of a tag suffix (``-alpine3.21`` has alpine)."""
    found = set()
    for word in _SUFFIX_WORD.split(suffix):
        match = _LEAN_WORD.fullmatch(word)
        if match is not None:
            found.add(match.group("marker"))
    return frozenset(found)


def variant_tags(
    ref: ImageReference, tags: Iterable[str], labels: Mapping[str, str] | None = None
) -> list[str]:
    """Return at most one leaner variant of ``ref``'s version per lean marker.

    A variant has the same version text as the current tag and a suffix with a lean marker
    (alpine, slim, distroless) that the current suffix lacks: ``1.2.3-alpine`` and
    ``1.2.3-slim-bookworm`` for ``1.2.3-bookworm``. For ``latest``, the variants are bare
    tags such as ``alpine`` or ``alpine3.21`` and ``latest-slim``. Per marker the tag that
    shares the most suffix words with the current tag wins, then the one with the fewest
    words, then the highest numbers. ``hullcheck.tags.exclude`` applies, but
    ``hullcheck.tags.include`` does not, because it names the tags a service follows.
    """
    tag_filter = TagFilter.from_labels(labels)
    current_tag = ref.effective_tag
    if current_tag is None:
        return []
    current = parse_tag(current_tag)
    if current is not None:
        base, current_suffix = current.version_text, current.suffix
    else:
        base, current_suffix = current_tag, ""
    current_words = _suffix_words(current_suffix)
    current_markers = lean_markers(current_suffix)

    best: dict[str, tuple[tuple[int, int, tuple[int, ...]], str]] = {}
    for tag in dict.fromkeys(tags):
        if tag == current_tag or tag_filter.excludes(tag):
            continue
        suffix = _variant_suffix(tag, base, unversioned=current is None)
        if suffix is None:
            continue
        words = _suffix_words(suffix)
        rank = (
            -len(words & current_words),
            len(words),
            tuple(-number for number in _numbers(suffix)),
        )
        for marker in lean_markers(suffix) - current_markers:
            chosen = best.get(marker)
            if chosen is None or (rank, tag) < chosen:
                best[marker] = (rank, tag)

    ordered = [best[marker][1] for marker in LEAN_MARKERS if marker in best]
    return list(dict.fromkeys(ordered))


def _variant_suffix(tag: str, base: str, *, unversioned: bool) -> str | None:
    """Return the suffix of ``tag`` after ``base``, or None when ``tag`` is no variant of it."""
    if tag.startswith(base) and len(tag) > len(base) and tag[len(base)] in "-_.+":
        return tag[len(base) :]
    # "alpine" and "slim" are the lean forms of "latest" in official images.
    if unversioned and base == "latest" and parse_tag(tag) is None:
        first_word = _SUFFIX_WORD.split(tag, maxsplit=1)[0]
        if _LEAN_WORD.fullmatch(first_word):
            return f"-{tag}"
    return None


def _suffix_words(suffix: str) -> frozenset[str]:
    return frozenset(word for word in _SUFFIX_WORD.split(suffix) if word)


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(run) for run in _DIGITS.findall(text))
