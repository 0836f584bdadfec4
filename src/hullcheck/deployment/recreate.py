"""Recreate one Compose service on a new image, and roll back to the old one when it fails.

The service goes through ``compose up``, never through the Docker API. So the new
container's environment is what the compose files declare plus the new image's defaults,
and nothing of the old container's configuration (such as the old image's PATH) is carried
over. Rolling back moves the tag back to the old image and runs the same ``up`` again.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import docker
import docker.errors
import requests.exceptions

from hullcheck.deployment.compose_cli import ComposeError, compose_command
from hullcheck.deployment.health import NotReadyError, wait_until_ready
from hullcheck.deployment.preflight import (
    check_compose_project,
    check_platform,
    require_local_image,
    tag_reference,
)
from hullcheck.deployment.target import (
    ComposeTarget,
    DeploymentError,
    dependants,
    run_target_compose,
    service_containers,
)
from hullcheck.discovery.models import ImageReference

logger = logging.getLogger(__name__)


class RecreateStatus(StrEnum):
    RECREATED = "recreated"
    """The service runs the new image and passed its health check."""
    ROLLED_BACK = "rolled_back"
    """The new image failed; the service runs the old image again."""
    FAILED = "failed"
    """The new image is not running: a check failed before anything was stopped, or the
    rollback failed too. ``containers_replaced`` tells the two apart."""


@dataclass(frozen=True)
class RecreateResult:
    """Outcome of one ``recreate_service`` call."""

    status: RecreateStatus
    project: str
    service: str
    reason: str | None = None
    """Reason the new image is not running; None when the status is ``recreated``."""
    container_ids: tuple[str, ...] = ()
    """Containers of the service afterwards."""
    image_id: str | None = None
    """Image ID that the service's first container runs afterwards; None when none exists."""
    dependants: tuple[str, ...] = ()
    """Services recreated along with it because they share its network namespace."""
    containers_replaced: bool = False
    """False when a check failed before Compose was run, so the old containers were not touched."""

    @property
    def container_id(self) -> str | None:
        return self.container_ids[0] if self.container_ids else None


@dataclass(frozen=True)
class _Plan:
    target: ComposeTarget
    reference: ImageReference
    services: tuple[str, ...]
    """The target first, then its dependants in the order Compose must start them."""
    up_arguments: tuple[str, ...]
    env: Mapping[str, str] | None
    health_timeout: float
    stable_seconds: float


def recreate_service(
    client: docker.DockerClient,
    target: ComposeTarget,
    *,
    reference: str,
    old_image_id: str,
    new_image_id: str,
    env: Mapping[str, str] | None,
    health_timeout: float = 120,
    stable_seconds: float = 10,
) -> RecreateResult:
    """Recreate ``target`` on ``new_image_id`` through Compose; roll back when it fails.

    ``reference`` is the image reference that the compose files give the service, such as
    ``ghcr.io/example/app:2``. Its local tag is moved to ``new_image_id`` before ``up``
    and back to ``old_image_id`` on rollback. ``env`` is the environment for Compose
    (default: this process's).

    Before anything is stopped, both images must be in the local image store and the new
    one must be built for the engine's platform. Compose must also be able to load the
    project. If a check fails, the result is ``failed`` with ``containers_replaced``
    False, and the tag points at the old image. After ``up``, the containers must become healthy (with a health check) or keep
    running for ``stable_seconds`` without a restart, within ``health_timeout`` seconds.

    Raises:
        ValueError: ``stable_seconds`` is longer than ``health_timeout``.
    """
    if stable_seconds > health_timeout:
        raise ValueError(
            f"stable_seconds ({stable_seconds}) must not exceed health_timeout ({health_timeout})"
        )
    logger.info(
        "Checking %s before recreating it: %s, %s -> %s",
        target.key,
        reference,
        old_image_id,
        new_image_id,
    )
    try:
        plan = _prepare(
            client,
            target,
            reference=reference,
            old_image_id=old_image_id,
            new_image_id=new_image_id,
            env=env,
            health_timeout=health_timeout,
            stable_seconds=stable_seconds,
        )
    except DeploymentError as error:
        logger.error("Not recreating %s, the old containers keep running: %s", target.key, error)
        _restore_tag(client, reference, old_image_id)
        return _result(client, target, RecreateStatus.FAILED, f"{error}; nothing was stopped")

    failure = _deploy(client, plan, new_image_id)
    if failure is None:
        logger.info("Recreated %s: it runs %s", target.key, new_image_id)
        return _result(client, target, RecreateStatus.RECREATED, None, plan=plan)

    logger.warning(
        "Update of %s to %s failed: %s; rolling back to %s",
        target.key,
        new_image_id,
        failure,
        old_image_id,
    )
    rollback_failure = _move_tag(client, plan.reference, old_image_id) or _deploy(
        client, plan, old_image_id
    )
    if rollback_failure is None:
        logger.warning(
            "Rolled back %s: tag %s points at the old image %s again, so a later 'compose up' "
            "does not deploy the failed one. The new image %s stays in the image store.",
            target.key,
            plan.reference.original,
            old_image_id,
            new_image_id,
        )
        reason = f"{failure}; rolled back to {old_image_id}"
        return _result(client, target, RecreateStatus.ROLLED_BACK, reason, plan=plan)

    logger.error("Rollback of %s to %s failed too: %s", target.key, old_image_id, rollback_failure)
    reason = f"{failure}; rollback to {old_image_id} failed: {rollback_failure}"
    return _result(client, target, RecreateStatus.FAILED, reason, plan=plan)


def _prepare(
    client: docker.DockerClient,
    target: ComposeTarget,
    *,
    reference: str,
    old_image_id: str,
    new_image_id: str,
    env: Mapping[str, str] | None,
    health_timeout: float,
    stable_seconds: float,
) -> _Plan:
    """Run every check that needs no container stopped and point the tag at the new image.

    Raises:
        DeploymentError: a check failed; nothing has been changed but, at most, the tag.
    """
    parsed = tag_reference(reference)
    require_local_image(
        client, new_image_id, role="new image", hint="pull the image before recreating the service"
    )
    check_platform(client, new_image_id)
    require_local_image(
        client,
        old_image_id,
        role="old image",
        hint="without the old image a failed update could not be rolled back; pull it by digest",
    )
    check_compose_project(target, parsed, env)
    services = (target.service, *dependants(client, target))
    if len(services) > 1:
        logger.info(
            "%s/%s share a network, PID or IPC namespace of %s and are recreated after it",
            target.project,
            ", ".join(services[1:]),
            target.service,
        )
    plan = _Plan(
        target=target,
        reference=parsed,
        services=services,
        up_arguments=_up_arguments(client, target, services, env),
        env=env,
        health_timeout=health_timeout,
        stable_seconds=stable_seconds,
    )
    failure = _move_tag(client, parsed, new_image_id)
    if failure is not None:
        raise DeploymentError(failure)
    return plan


def _up_arguments(
    client: docker.DockerClient,
    target: ComposeTarget,
    services: Sequence[str],
    env: Mapping[str, str] | None,
) -> tuple[str, ...]:
    """Return the ``up`` arguments that recreate exactly ``services``.

    ``--force-recreate`` is needed for the dependants, because Compose v1 1.29.2 would
    keep them: their config hash contains the name of the service whose network they
    join, not its container id. The same holds for ``pid: service:X``.
    ``--no-deps`` leaves every other service alone, and naming the services starts them
    even when their profile is not active. Compose v1 1.29.2 scales a service back to its
    configured ``scale`` on ``up``, so the running count is passed on.
    """
    try:
        command = compose_command(env)
    except ComposeError as error:
        raise DeploymentError(error.message, hint=error.hint) from error
    is_v2 = command[-1] == "compose"
    arguments = ["up", "-d", "--no-deps", "--force-recreate", "--no-build"]
    if is_v2 and _up_accepts_pull(command, env):
        # Compose v1 1.29.2 pulls in 'up' only when the image is missing. v2 pulls for
        # 'pull_policy: always', which would move the tag away from the image chosen here.
        arguments += ["--pull", "never"]
    for service in services:
        running = [
            c for c in service_containers(client, target.project, service) if c.status == "running"
        ]
        if len(running) > 1:
            arguments += ["--scale", f"{service}={len(running)}"]
    return (*arguments, *services)


def _up_accepts_pull(compose: Sequence[str], env: Mapping[str, str] | None) -> bool:
    """Return True when ``compose up`` has a ``--pull`` option, which older v2 releases lack."""
    # NOTE: only Compose v1 is installed where the tests run, so this v2 path is untested.
    command = [*compose, "up", "--help"]
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=dict(env) if env else None,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("Running %s failed: %s", " ".join(command), error)
        return False
    return "--pull" in completed.stdout


def _move_tag(client: docker.DockerClient, reference: ImageReference, image_id: str) -> str | None:
    """Point the local tag ``reference`` at ``image_id``; return why it failed, or None."""
    try:
        image = require_local_image(client, image_id, role="image", hint="pull it again by digest")
        image.tag(reference.name, tag=reference.effective_tag or "latest")
    except DeploymentError as error:
        return str(error)
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        return f"docker tag {image_id} {reference.original} failed: {error}"
    logger.info("Tagged %s as %s", image_id, reference.original)
    return None


def _restore_tag(client: docker.DockerClient, reference: str, old_image_id: str) -> None:
    """Point the tag back at the old image after a failed check, when both are valid.

    The caller may have pulled the new image under the tag already, so without this a
    later ``compose up`` would deploy the image that was just rejected.
    """
    try:
        parsed = tag_reference(reference)
    except DeploymentError:
        return
    failure = _move_tag(client, parsed, old_image_id)
    if failure is not None:
        logger.warning("Could not point %s back at %s: %s", reference, old_image_id, failure)


def _deploy(client: docker.DockerClient, plan: _Plan, image_id: str) -> str | None:
    """Run ``up`` and wait for the containers; return why they failed, or None."""
    target = plan.target
    logger.info(
        "Stopping and recreating %s (services %s) on %s",
        target.key,
        ", ".join(plan.services),
        image_id,
    )
    try:
        run_target_compose(target, plan.up_arguments, plan.env)
    except ComposeError as error:
        # The message starts with "compose up ... failed" and ends with Compose's error.
        return error.message

    try:
        containers = {
            service: service_containers(client, target.project, service)
            for service in plan.services
        }
    except DeploymentError as error:
        return str(error)
    own = containers[target.service]
    if not own:
        return f"Compose created no container for {target.key}"
    for container in own:
        running_image = str(container.attrs.get("Image") or "")
        if running_image != image_id:
            return f"container {container.name} runs {running_image or 'no image'}, not {image_id}"

    logger.info(
        "Started %s; waiting up to %.0f s for %s",
        ", ".join(str(c.name) for group in containers.values() for c in group),
        plan.health_timeout,
        "health checks or a stable run",
    )
    try:
        wait_until_ready(
            client,
            [str(c.id) for group in containers.values() for c in group],
            timeout=plan.health_timeout,
            stable_seconds=plan.stable_seconds,
        )
    except NotReadyError as error:
        return str(error)
    return None


def _result(
    client: docker.DockerClient,
    target: ComposeTarget,
    status: RecreateStatus,
    reason: str | None,
    *,
    plan: _Plan | None = None,
) -> RecreateResult:
    """Build the result from the containers that exist now."""
    try:
        containers = service_containers(client, target.project, target.service)
    except DeploymentError as error:
        logger.warning("Could not list the containers of %s afterwards: %s", target.key, error)
        containers = []
    # The running container first, should a failed one still be there.
    containers.sort(key=lambda c: c.status != "running")
    return RecreateResult(
        status=status,
        project=target.project,
        service=target.service,
        reason=reason,
        container_ids=tuple(str(c.id) for c in containers),
        image_id=str(containers[0].attrs.get("Image")) if containers else None,
        dependants=plan.services[1:] if plan else (),
        containers_replaced=plan is not None,
    )
