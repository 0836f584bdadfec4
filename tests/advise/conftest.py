"""Fixtures for advise: one lab repository with several tags and variants of an app."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from advise_lab import (
    FIXED_LIBC6,
    FIXED_OPENSSL,
    AppRepository,
    push_foreign_platform_index,
    remove_local,
)

from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty Docker config and a private data directory for the run lock."""
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def trivy_cache(lab_trivy_cache: Path, tmp_path: Path) -> Path:
    """A copy of the fixture DB, because two Trivy processes cannot share one cache."""
    return Path(shutil.copytree(lab_trivy_cache, tmp_path / "trivy-cache"))


@pytest.fixture(scope="module")
def app_repository(lab: Lab) -> AppRepository:
    """Publish an app's tags, then drop them from the engine so advise has to pull.

    - 1.0.0: debian-base with its old libc6.
    - 1.0.1: libc6 fixed.
    - 1.1.0: libc6 and libssl3 fixed.
    - 2.0.0: node-app, which adds two npm findings.
    - 1.0.0-alpine: alpine-base.
    - latest: debian-base again.
    """
    repository = f"tests/advise-app-{secrets.token_hex(3)}"
    builds: dict[str, tuple[str, dict[str, str]]] = {
        "1.0.0": ("debian-base", {}),
        "1.0.1": ("debian-base", FIXED_LIBC6),
        "1.1.0": ("debian-base", {**FIXED_LIBC6, **FIXED_OPENSSL}),
        "2.0.0": ("node-app", {}),
        "1.0.0-alpine": ("alpine-base", {}),
        "latest": ("debian-base", {}),
    }
    images = {
        tag: publish(lab, kind, repository, tag, package_versions=versions, revision=tag)
        for tag, (kind, versions) in builds.items()
    }
    app = AppRepository(next(iter(images.values())).repository, images)
    remove_local(lab, [app.image(tag) for tag in images])
    return app


@pytest.fixture
def foreign_repository(lab: Lab, lab_repository: str) -> AppRepository:
    """1.0.0 and 1.0.1 (fixed libc6) of debian-base, and 1.2.0 only for s390x.

    The registry lists 1.2.0, but the lab engine cannot pull it for its own platform.
    """
    images = {
        tag: publish(lab, "debian-base", lab_repository, tag, package_versions=versions)
        for tag, versions in (("1.0.0", {}), ("1.0.1", FIXED_LIBC6))
    }
    first = images["1.0.0"]
    foreign_digest = push_foreign_platform_index(lab, lab_repository, "1.2.0")
    images["1.2.0"] = replace(first, kind="foreign", tag="1.2.0", digest=foreign_digest)
    app = AppRepository(first.repository, images)
    remove_local(lab, [app.image("1.0.0"), app.image("1.0.1")])
    return app
