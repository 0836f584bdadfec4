"""Fixtures for tag listing: a repository with several tags in the lab registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from paging_front import PagingFront
from tag_repository import TAGS, TaggedRepository

from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.registry import RegistryClient


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config directory, so the machine's own credentials are never read."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


@pytest.fixture
def tagged_repository(lab: Lab, lab_repository: str) -> TaggedRepository:
    """One image pushed under every tag of ``TAGS``; pushing a tag again only adds the tag."""
    published = publish(lab, "debian-base", lab_repository, TAGS[0])
    image = lab.client().images.get(published.reference)
    for tag in TAGS[1:]:
        image.tag(published.repository, tag)
        lab.client().images.push(published.repository, tag=tag)
    return TaggedRepository(published.repository, TAGS)


@pytest.fixture
def registry_client() -> Iterator[RegistryClient]:
    with RegistryClient() as client:
        yield client


@pytest.fixture
def make_front(lab: Lab) -> Iterator[type[PagingFront]]:
    """Start paging fronts before the registry of the lab; each is stopped after the test."""
    started: list[PagingFront] = []

    class StartedFront(PagingFront):
        def __init__(self, **options: object) -> None:
            super().__init__(upstream=lab.registry_url, **options)  # type: ignore[arg-type]
            self.start()
            started.append(self)

    yield StartedFront
    for front in started:
        front.stop()
