"""A lab repository with several tags, shared by the tag listing tests."""

from __future__ import annotations

from dataclasses import dataclass

from hullcheck.discovery.models import ImageReference
from hullcheck.discovery.references import parse_reference

TAGS = ("1.0.0", "1.0.1", "1.1.0", "2.0.0", "1.0.0-alpine", "latest", "v3")


@dataclass(frozen=True)
class TaggedRepository:
    repository: str
    """``127.0.0.1:PORT/tests/name``."""
    tags: tuple[str, ...]

    def reference(self, host: str | None = None, tag: str = "1.0.0") -> ImageReference:
        """The repository's reference, on another host (a front) when ``host`` is given."""
        registry, _, path = self.repository.partition("/")
        return parse_reference(f"{host or registry}/{path}:{tag}")
