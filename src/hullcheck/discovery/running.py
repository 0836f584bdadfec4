"""Discover images from running containers through the Docker Engine API."""

from __future__ import annotations

import logging
from pathlib import Path

import docker
import docker.errors

from hullcheck.discovery.models import (
    DiscoveryProblem,
    DiscoveryResult,
    InvalidReferenceError,
    ProblemKind,
    ServiceImage,
)
from hullcheck.discovery.references import parse_reference

logger = logging.getLogger(__name__)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
STANDALONE_PROJECT = "(no compose project)"


def config_files_from_labels(labels: dict[str, str]) -> tuple[Path, ...]:
    """Split the comma-separated config_files label; relative paths are under working_dir."""
    raw = labels.get(CONFIG_FILES_LABEL, "")
    working_dir = Path(labels.get(WORKING_DIR_LABEL, "."))
    files = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            path = Path(part)
            files.append(path if path.is_absolute() else working_dir / path)
    return tuple(files)


def discover_running(client: docker.DockerClient) -> DiscoveryResult:
    """List running containers as services, grouped by their Compose labels."""
    result = DiscoveryResult()
    by_key: dict[tuple[str, str], ServiceImage] = {}

    for container in client.containers.list():
        labels: dict[str, str] = container.labels or {}
        project = labels.get(PROJECT_LABEL, STANDALONE_PROJECT)
        service = labels.get(SERVICE_LABEL, container.name)
        image_text = str(container.attrs.get("Config", {}).get("Image") or "")
        image_id = str(container.attrs.get("Image") or "") or None

        key = (project, service)
        existing = by_key.get(key)
        if existing is not None:
            existing.container_names = (*existing.container_names, container.name)
            continue

        problems: list[DiscoveryProblem] = []
        reference = None
        if image_text and not image_text.startswith("sha256:"):
            try:
                reference = parse_reference(image_text)
            except InvalidReferenceError as error:
                problems.append(
                    DiscoveryProblem(
                        kind=ProblemKind.INVALID_REFERENCE,
                        message=f"container {container.name}: {error}",
                        service=service,
                        blocks_deploy=False,
                    )
                )
        entry = ServiceImage(
            project=project,
            service=service,
            image=reference,
            image_text=image_text or None,
            # A container started from a bare image ID has no name to look up in a registry.
            local_build=reference is None and not problems,
            local_image_name=image_text or image_id,
            container_names=(container.name,),
            running_image_id=image_id,
            problems=tuple(problems),
            labels=dict(labels),
        )
        by_key[key] = entry
        result.services.append(entry)

    logger.debug("Found %d running services", len(result.services))
    return result


def merge_running(
    compose: DiscoveryResult, running: DiscoveryResult, *, include_unmatched: bool
) -> DiscoveryResult:
    """Attach running containers to the compose services they belong to.

    A profiled service that is inactive in the loaded profiles but has a running container
    is still deployed, so it becomes active. Containers of other projects are added only
    when ``include_unmatched`` is true.
    """
    by_key = {(s.project, s.service): s for s in running.services}
    matched: set[tuple[str, str]] = set()
    for service in compose.services:
        key = (service.project, service.service)
        container = by_key.get(key)
        if container is None:
            continue
        matched.add(key)
        service.container_names = container.container_names
        service.running_image_id = container.running_image_id
        # Labels on the container win: they are what the deployed service really carries.
        service.labels = {**service.labels, **container.labels}
        if not service.active:
            logger.info(
                "Service %s/%s is in an inactive profile but has a running container; checking it",
                service.project,
                service.service,
            )
            service.active = True

    merged = DiscoveryResult(
        projects=list(compose.projects),
        services=list(compose.services),
        problems=[*compose.problems, *running.problems],
    )
    if include_unmatched:
        merged.services.extend(s for s in running.services if (s.project, s.service) not in matched)
    return merged
