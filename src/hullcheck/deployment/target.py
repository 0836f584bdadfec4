"""Find the Compose service behind a running container, and the services joined to it.

Compose writes the project, the service, the working directory and the config files as
labels on every container it creates (v1 and v2 alike), so a running container is enough
to run ``up`` for its service again. Compose v2 also writes the ``--env-file`` paths.
Neither version records which profiles were active, which is why ``up`` names the service.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.discovery.running import (
    CONFIG_FILES_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    config_files_from_labels,
)
from hullcheck.errors import HullcheckError

logger = logging.getLogger(__name__)

ENVIRONMENT_FILE_LABEL = "com.docker.compose.project.environment_file"
"""Comma-separated ``--env-file`` paths; written by Compose v2 only, and only when given."""
ONEOFF_LABEL = "com.docker.compose.oneoff"
"""``True`` on containers of ``compose run``, which ``up`` never recreates."""

_REQUIRED_LABELS = (PROJECT_LABEL, SERVICE_LABEL, WORKING_DIR_LABEL, CONFIG_FILES_LABEL)
# HostConfig fields that hold "container:ID" (or "service:NAME") when a container joins
# another container's namespace.
_NAMESPACE_MODE_KEYS = ("NetworkMode", "PidMode", "IpcMode")


class DeploymentError(HullcheckError):
    """A service cannot be recreated safely, or a step of the recreation failed."""


@dataclass(frozen=True)
class ComposeTarget:
    """One Compose service as its running containers describe it, enough to run ``up`` again."""

    project: str
    service: str
    files: tuple[Path, ...]
    """Compose files in the order Compose merged them; absolute."""
    working_dir: Path
    """The project directory: relative paths and the default ``.env`` are resolved from it."""
    env_files: tuple[Path, ...] = ()
    """``--env-file`` paths (Compose v2 labels only); empty means the project's ``.env``."""
    profiles: tuple[str, ...] = ()
    """Profiles to pass to Compose. Labels do not record them; naming the service is enough."""
    container_names: tuple[str, ...] = ()
    container_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``project/service``, as log lines and messages name the service."""
        return f"{self.project}/{self.service}"


def target_from_container(container: Container) -> ComposeTarget:
    """Describe the Compose service that ``container`` belongs to, with all its containers.

    Raises:
        DeploymentError: the container was not created by ``docker compose up``.
    """
    labels: dict[str, str] = dict(container.labels or {})
    target = target_from_labels(
        labels, container_names=(container.name,), container_ids=(container.id,)
    )
    containers = service_containers(container.client, target.project, target.service)
    if container.id not in {c.id for c in containers}:
        containers.append(container)
    return replace(
        target,
        container_names=tuple(str(c.name) for c in containers),
        container_ids=tuple(str(c.id) for c in containers),
    )


def target_from_labels(
    labels: Mapping[str, str],
    *,
    container_names: tuple[str, ...] = (),
    container_ids: tuple[str, ...] = (),
) -> ComposeTarget:
    """Build a ComposeTarget from the labels of one container.

    Raises:
        DeploymentError: a required Compose label is missing or empty, or the container
            is a one-off ``compose run`` container.
    """
    subject = f"container {container_names[0]}" if container_names else "the container"
    missing = [label for label in _REQUIRED_LABELS if not labels.get(label, "").strip()]
    if missing:
        raise DeploymentError(
            f"{subject} was not started by Docker Compose (label {', '.join(missing)} missing); "
            "hullcheck can only recreate Compose services",
            hint="update it by hand, or define it in a compose file and start it with 'docker compose up -d'",
        )
    if labels.get(ONEOFF_LABEL, "False").lower() == "true":
        raise DeploymentError(
            f"{subject} is a one-off 'compose run' container; hullcheck can only recreate services started by 'up'",
            hint="pick a container created by 'docker compose up'",
        )

    working_dir = Path(labels[WORKING_DIR_LABEL])
    # NOTE: some Compose v2 releases store --env-file paths as typed on the command line. A
    # relative one was then relative to the shell's directory, which is unknown here, so
    # the project directory is a guess.
    env_files = tuple(
        _absolute(working_dir, part)
        for part in labels.get(ENVIRONMENT_FILE_LABEL, "").split(",")
        if part.strip()
    )
    return ComposeTarget(
        project=labels[PROJECT_LABEL],
        service=labels[SERVICE_LABEL],
        files=config_files_from_labels(dict(labels)),
        working_dir=working_dir,
        env_files=env_files,
        container_names=container_names,
        container_ids=container_ids,
    )


def dependants(client: docker.DockerClient, target: ComposeTarget) -> list[str]:
    """List the services of the project that use the target's network, PID or IPC namespace.

    A service with ``network_mode: service:X`` or ``container:NAME`` joins the network
    namespace of another container, and ``pid:`` and ``ipc:`` do the same for the other
    namespaces. When that container is replaced, the namespace is gone, so the joined
    containers must be recreated after it. The search is transitive, and the result is in
    the order to recreate: each service after the one it joins.
    """
    containers = _project_containers(client, target.project)
    group_services = {target.service}
    group_references = _references(c for c in containers if _service_of(c) == target.service)
    group_references.update(target.container_ids)
    group_references.update(target.container_names)
    found: list[str] = []

    changed = True
    while changed:
        changed = False
        for container in containers:
            service = _service_of(container)
            if service in group_services:
                continue
            host_config = container.attrs.get("HostConfig") or {}
            modes = [str(host_config.get(key) or "") for key in _NAMESPACE_MODE_KEYS]
            joined = [mode for mode in modes if _joins(mode, group_services, group_references)]
            if not joined:
                continue
            logger.debug(
                "Service %s/%s joins a namespace of %s (%s)",
                target.project,
                service,
                target.service,
                ", ".join(joined),
            )
            group_services.add(service)
            found.append(service)
            # Containers of the same service are added together, so a service is found once.
            group_references.update(_references(c for c in containers if _service_of(c) == service))
            changed = True
    return found


def run_target_compose(
    target: ComposeTarget, arguments: Sequence[str], env: Mapping[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """Run one Compose command with the target's files, project name, directory and env files.

    Raises:
        ComposeError: Compose is missing or the command failed.
    """
    # run_compose takes one env file; global options placed before the command add more.
    env_file_options: list[str] = []
    for path in target.env_files:
        env_file_options += ["--env-file", str(path)]
    return run_compose(
        target.files,
        [*env_file_options, *arguments],
        project=target.project,
        working_dir=target.working_dir,
        profiles=target.profiles,
        env=env,
    )


def service_containers(client: docker.DockerClient, project: str, service: str) -> list[Container]:
    """Return the containers of one service, running or not; one-off containers left out."""
    return [c for c in _project_containers(client, project) if _service_of(c) == service]


def _project_containers(client: docker.DockerClient, project: str) -> list[Container]:
    try:
        containers = client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={project}"}
        )
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise DeploymentError(
            f"listing the containers of Compose project {project} failed: {error}"
        ) from error
    return [c for c in containers if (c.labels or {}).get(ONEOFF_LABEL, "False").lower() != "true"]


def _service_of(container: Container) -> str:
    return str((container.labels or {}).get(SERVICE_LABEL, ""))


def _references(containers: Iterable[Container]) -> set[str]:
    """Return the ids and names by which ``container:REF`` can point at these containers."""
    references: set[str] = set()
    for container in containers:
        references.add(str(container.id))
        references.add(str(container.name))
    return references


def _joins(mode: str, services: set[str], references: set[str]) -> bool:
    kind, _, value = mode.partition(":")
    if not value:
        return False
    if kind == "service":
        return value in services
    if kind != "container":
        return False
    value = value.lstrip("/")
    if value in references:
        return True
    # Docker accepts any unique prefix of a container id.
    return len(value) >= 12 and any(reference.startswith(value) for reference in references)


def _absolute(base: Path, text: str) -> Path:
    path = Path(text.strip())
    return path if path.is_absolute() else base / path
