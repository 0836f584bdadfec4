"""An Immich-shaped Compose project whose images live in the lab registry.

The compose file follows the layout of Immich's own ``docker-compose.yml`` and
``example.env``: the server and machine-learning images take their tag from
``${IMMICH_VERSION:-release}``, the redis (valkey) and database images are pinned by tag
and digest, and every service reads ``.env`` through ``env_file``. It stays within what
docker-compose 1.29.2 accepts, so it has no top-level ``name:``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from hullcheck.analysis.models import Severity
from hullcheck.lab.images import PublishedImage, fixture_image, load_build_spec, publish
from hullcheck.lab.services import Lab
from hullcheck.lab.trivydb import SeverityCount

logger = logging.getLogger(__name__)

IMMICH_VERSION = "v1.119.0"
"""The server and machine-learning tag that the stack's ``.env`` selects."""

COMPOSE_FILE_NAME = "docker-compose.yml"

IMMICH_SERVICES: Mapping[str, str] = {
    "immich-server": "node-app",
    "immich-machine-learning": "python-app",
    "redis": "debian-base",
    "database": "alpine-base",
}
"""Fixture image kind of each service."""

# Repository and tag of each service's image in the lab registry. The server and
# machine-learning tags come from .env, so they are published under IMMICH_VERSION.
_REPOSITORIES: Mapping[str, tuple[str, str | None]] = {
    "immich-server": ("immich-app/immich-server", None),
    "immich-machine-learning": ("immich-app/immich-machine-learning", None),
    "redis": ("valkey/valkey", "8-bookworm"),
    "database": ("immich-app/postgres", "14-vectorchord0.4.3"),
}


def publish_immich_images(
    lab: Lab, *, namespace: str | None = None, immich_version: str = IMMICH_VERSION
) -> dict[str, PublishedImage]:
    """Publish one fixture image per Immich service; return them by service name.

    ``namespace`` puts every repository under ``namespace/`` so that tests sharing one
    lab do not move each other's tags.
    """
    published: dict[str, PublishedImage] = {}
    for service, (repository, fixed_tag) in _REPOSITORIES.items():
        path = f"{namespace.strip('/')}/{repository}" if namespace else repository
        tag = fixed_tag or immich_version
        published[service] = publish(lab, IMMICH_SERVICES[service], path, tag)
    return published


def write_immich_stack(
    directory: Path,
    lab: Lab,
    *,
    namespace: str | None = None,
    immich_version: str = IMMICH_VERSION,
    images: Mapping[str, PublishedImage] | None = None,
) -> Path:
    """Publish the stack's images and write ``docker-compose.yml`` and ``.env``.

    Returns the compose file's path. Compose derives the project name from the directory
    name, and the container names start with it too (``immich_server`` in a directory
    named ``immich``, as in Immich's own file), so two stacks on one lab need two
    directory names. ``images`` reuses images published earlier by
    ``publish_immich_images`` instead of publishing new ones.
    """
    if images is None:
        images = publish_immich_images(lab, namespace=namespace, immich_version=immich_version)
    missing = sorted(set(IMMICH_SERVICES) - set(images))
    if missing:
        raise ValueError(f"images has no entry for the services {', '.join(missing)}")

    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory.name
    compose_path = directory / COMPOSE_FILE_NAME
    compose_path.write_text(
        _compose_text(images, container_prefix=prefix, mount_localtime=_has_localtime()),
        encoding="utf-8",
    )
    (directory / ".env").write_text(_env_text(immich_version), encoding="utf-8")
    logger.info("wrote the Immich-shaped stack %s", compose_path)
    return compose_path


def expected_counts_by_service() -> dict[str, Mapping[Severity, SeverityCount]]:
    """Return the Trivy findings each service's image must give, per severity."""
    return {
        service: fixture_image(kind).expected_counts for service, kind in IMMICH_SERVICES.items()
    }


def _has_localtime() -> bool:
    # Docker creates a missing bind-mount source as a directory on the host, so the
    # /etc/localtime mount of Immich's file is only written where the file exists.
    return Path("/etc/localtime").is_file()


def _compose_text(
    images: Mapping[str, PublishedImage], *, container_prefix: str, mount_localtime: bool
) -> str:
    server = images["immich-server"].repository
    machine_learning = images["immich-machine-learning"].repository
    redis = images["redis"].pinned_reference
    database = images["database"].pinned_reference
    marker = load_build_spec().health_marker
    localtime = "      - /etc/localtime:/etc/localtime:ro\n" if mount_localtime else ""
    return f"""\
#
# Immich-shaped stack for the hullcheck lab, laid out like Immich's docker-compose.yml.
# Images come from the lab registry, and .env contains the settings, as in Immich's
# example.env.
#
# Immich publishes port 2283 on all interfaces. That is left out here, so that several
# lab stacks can run on one machine without a port clash.
#
# docker-compose 1.29.2 reads any "disable" key as "disable: true", so under Compose v1
# the server and machine-learning containers run without their image's HEALTHCHECK.

services:
  immich-server:
    container_name: {container_prefix}_server
    image: {server}:${{IMMICH_VERSION:-release}}
    volumes:
      # Change UPLOAD_LOCATION in .env, not this line, to move the media storage.
      - ${{UPLOAD_LOCATION}}:/data
{localtime}\
    env_file:
      - .env
    depends_on:
      - redis
      - database
    restart: always
    healthcheck:
      disable: false

  immich-machine-learning:
    container_name: {container_prefix}_machine_learning
    image: {machine_learning}:${{IMMICH_VERSION:-release}}
    volumes:
      - model-cache:/cache
    env_file:
      - .env
    restart: always
    healthcheck:
      disable: false

  redis:
    container_name: {container_prefix}_redis
    image: {redis}
    healthcheck:
      test: test -f {marker} || exit 1
    restart: always

  database:
    container_name: {container_prefix}_postgres
    image: {database}
    environment:
      POSTGRES_PASSWORD: ${{DB_PASSWORD}}
      POSTGRES_USER: ${{DB_USERNAME}}
      POSTGRES_DB: ${{DB_DATABASE_NAME}}
      POSTGRES_INITDB_ARGS: '--data-checksums'
    volumes:
      # Do not edit the next line. Change DB_DATA_LOCATION in .env instead.
      - ${{DB_DATA_LOCATION}}:/var/lib/postgresql/data
    shm_size: 128mb
    restart: always
    healthcheck:
      # Immich runs pg_isready and a checksum query here; $$ keeps the $ for the shell.
      test: >-
        test -f {marker} || exit 1;
        Chksum="$$(echo 0)";
        echo "checksum failure count is $$Chksum";
        [ "$$Chksum" = '0' ] || exit 1
      interval: 2s

volumes:
  model-cache:
"""


def _env_text(immich_version: str) -> str:
    return f"""\
# Settings of the Immich-shaped lab stack, laid out like Immich's example.env.

# The location where uploaded files are stored
UPLOAD_LOCATION=./library

# The location where the database files are stored
DB_DATA_LOCATION=./postgres

# To set a timezone, uncomment the next line and change Etc/UTC to a TZ identifier
# TZ=Etc/UTC

# The Immich version to use. You can pin this to a specific version like "v1.71.0"
IMMICH_VERSION={immich_version}

# Connection secret for postgres. Use only the characters A-Za-z0-9
DB_PASSWORD=postgres

# The values below this line do not need to be changed
###################################################################################
DB_USERNAME=postgres
DB_DATABASE_NAME=immich
"""
