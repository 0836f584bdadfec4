"""Checks made before any container is stopped, so that a failed update keeps the old one running."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import requests.exceptions
import yaml
from docker.models.images import Image

from hullcheck.deployment.compose_cli import ComposeError
from hullcheck.deployment.target import ComposeTarget, DeploymentError, run_target_compose
from hullcheck.discovery.models import ImageReference, InvalidReferenceError
from hullcheck.discovery.references import parse_reference

logger = logging.getLogger(__name__)

# The engine reports the kernel's name (``uname -m``), images the Go name (GOARCH).
_ARCHITECTURE_NAMES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armv8": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64el": "ppc64le",
}


def normalize_architecture(name: str) -> str:
    """Return the Go name of a CPU architecture: ``x86_64`` and ``amd64`` both give ``amd64``."""
    lowered = name.strip().lower()
    return _ARCHITECTURE_NAMES.get(lowered, lowered)


def check_platform(client: docker.DockerClient, image_id: str) -> None:
    """Raise DeploymentError unless the local image ``image_id`` runs on the engine's platform.

    An image that records no OS or architecture is let through with a warning, because the
    engine runs such images too.
    """
    image = require_local_image(client, image_id, role="image", hint="pull the image first")
    try:
        info = client.info()
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise DeploymentError(f"reading the Docker engine's platform failed: {error}") from error

    engine_os = str(info.get("OSType") or "").lower()
    engine_architecture = normalize_architecture(str(info.get("Architecture") or ""))
    image_os = str(image.attrs.get("Os") or "").lower()
    image_architecture = normalize_architecture(str(image.attrs.get("Architecture") or ""))
    if not image_os or not image_architecture:
        logger.warning("Image %s records no OS or architecture; assuming it fits", image_id)
        return
    # NOTE: the arm variant (v6, v7, v8) is not compared, so a v7 image on a v6 engine passes.
    if (image_os, image_architecture) != (engine_os, engine_architecture):
        variant = image.attrs.get("Variant")
        image_platform = f"{image_os}/{image_architecture}" + (f"/{variant}" if variant else "")
        raise DeploymentError(
            f"image {image_id} is built for {image_platform}, but the Docker engine runs "
            f"{engine_os}/{engine_architecture}",
            hint=f"choose a tag that is published for {engine_os}/{engine_architecture}",
        )


def require_local_image(
    client: docker.DockerClient, image_id: str, *, role: str, hint: str
) -> Image:
    """Return the local image ``image_id``; ``role`` and ``hint`` go into the error.

    Raises:
        DeploymentError: the image is not in the engine's image store.
    """
    try:
        return client.images.get(image_id)
    except docker.errors.ImageNotFound as error:
        raise DeploymentError(
            f"{role} {image_id} is not in the Docker engine's image store", hint=hint
        ) from error
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise DeploymentError(f"inspecting {role} {image_id} failed: {error}") from error


def tag_reference(reference: str) -> ImageReference:
    """Parse ``reference`` and require a tag that ``docker tag`` can move.

    Raises:
        DeploymentError: the reference is invalid or pinned by digest.
    """
    try:
        parsed = parse_reference(reference)
    except InvalidReferenceError as error:
        raise DeploymentError(str(error)) from error
    if parsed.pinned:
        raise DeploymentError(
            f"image reference {reference} is pinned by digest, so moving its tag cannot "
            "switch between the old and the new image",
            hint="change the digest in the compose file instead of recreating the service",
        )
    return parsed


def check_compose_project(
    target: ComposeTarget, reference: ImageReference, env: Mapping[str, str] | None
) -> None:
    """Raise DeploymentError unless Compose can load the project and names ``reference``.

    ``docker compose config`` fails on what would make ``up`` fail after the old
    container is stopped: a missing file, an unset ``${VAR:?}``, invalid YAML. When the
    service is in the output, its ``image`` must be ``reference``, because rolling back
    moves that tag. Compose v2 leaves a service of an inactive profile out of the output,
    and then the image is not compared.
    """
    missing = [path for path in (*target.files, *target.env_files) if not path.is_file()]
    if not target.working_dir.is_dir():
        missing.append(target.working_dir)
    if missing:
        raise DeploymentError(
            f"{target.key}: {', '.join(str(path) for path in missing)} not found, "
            "so Compose cannot recreate the service",
            hint="restore the files, or run hullcheck where the project's files are mounted at the same paths",
        )

    try:
        completed = run_target_compose(target, ["config"], env)
    except ComposeError as error:
        raise DeploymentError(
            f"{target.key}: Compose cannot load the project: {error.message}",
            hint="fix the compose files until 'docker compose config' succeeds",
        ) from error

    try:
        document: Any = yaml.safe_load(completed.stdout)
    except yaml.YAMLError as error:
        raise DeploymentError(
            f"{target.key}: 'compose config' printed invalid YAML: {error}"
        ) from error
    services = document.get("services") if isinstance(document, dict) else None
    service = services.get(target.service) if isinstance(services, dict) else None
    if not isinstance(service, dict):
        logger.debug("%s is not in the output of 'compose config'", target.key)
        return
    image_text = str(service.get("image") or "")
    try:
        declared = parse_reference(image_text).normalized if image_text else ""
    except InvalidReferenceError:
        declared = image_text
    if declared != reference.normalized:
        raise DeploymentError(
            f"{target.key}: the compose files name image {image_text or '(none)'}, "
            f"not {reference.original}",
            hint="pass the reference that the compose file uses for this service",
        )
