"""Wait until freshly created containers are ready: healthy, or running without a restart."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from hullcheck.deployment.target import DeploymentError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""Time between two inspections of the same container."""


class NotReadyError(DeploymentError):
    """A container became unhealthy, stopped, restarted, or was not ready in time."""


@dataclass
class _Watch:
    container_id: str
    name: str = ""
    running_since: float | None = None
    """Monotonic time of the first inspection that found the container running."""
    health_status: str | None = None


def wait_until_ready(
    client: docker.DockerClient,
    container_ids: Sequence[str],
    *,
    timeout: float,
    stable_seconds: float,
) -> None:
    """Wait until every container is ready, and raise NotReadyError at the first failure.

    A container with a health check (``State.Health``) is ready once it is ``healthy``;
    ``unhealthy`` fails at once. A container without one is ready once it has been
    running for ``stable_seconds``. Either way, a stop or any restart fails: the
    containers were just created, so ``RestartCount`` must stay 0. ``timeout`` is in
    seconds and counts from the call.
    """
    started = time.monotonic()
    pending = {container_id: _Watch(container_id) for container_id in container_ids}
    while True:
        now = time.monotonic()
        elapsed = now - started
        for watch in list(pending.values()):
            if _is_ready(
                watch,
                _inspect(client, watch),
                now=now,
                elapsed=elapsed,
                stable_seconds=stable_seconds,
            ):
                logger.debug("Container %s is ready after %.1f s", watch.name, elapsed)
                del pending[watch.container_id]
        if not pending:
            return
        if elapsed >= timeout:
            raise NotReadyError(_timeout_reason(list(pending.values()), timeout, stable_seconds))
        time.sleep(POLL_SECONDS)


def _inspect(client: docker.DockerClient, watch: _Watch) -> Mapping[str, Any]:
    try:
        attrs: Mapping[str, Any] = client.api.inspect_container(watch.container_id)
    except docker.errors.NotFound as error:
        raise NotReadyError(
            f"container {watch.name or watch.container_id[:12]} was removed while starting"
        ) from error
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise NotReadyError(
            f"inspecting container {watch.name or watch.container_id[:12]} failed: {error}"
        ) from error
    watch.name = str(attrs.get("Name") or watch.container_id[:12]).lstrip("/")
    return attrs


def _is_ready(
    watch: _Watch, attrs: Mapping[str, Any], *, now: float, elapsed: float, stable_seconds: float
) -> bool:
    """Return True when the container is ready; raise NotReadyError when it failed."""
    state: Mapping[str, Any] = attrs.get("State") or {}
    restarts = int(attrs.get("RestartCount") or 0)
    if restarts or state.get("Restarting"):
        raise NotReadyError(
            f"container {watch.name} restarted {restarts or 1} time(s) within {elapsed:.0f} s "
            f"(last exit code {state.get('ExitCode')})"
        )
    if not state.get("Running"):
        detail = f": {state['Error']}" if state.get("Error") else ""
        raise NotReadyError(
            f"container {watch.name} is {state.get('Status', 'not running')} with exit code "
            f"{state.get('ExitCode')} after {elapsed:.0f} s{detail}"
        )

    health: Mapping[str, Any] | None = state.get("Health")
    if health:
        watch.health_status = str(health.get("Status") or "")
        if watch.health_status == "healthy":
            return True
        if watch.health_status == "unhealthy":
            raise NotReadyError(
                f"health check failed: unhealthy after {elapsed:.0f} s "
                f"(container {watch.name}{_last_check_output(health)})"
            )
        return False

    if watch.running_since is None:
        watch.running_since = now
    return now - watch.running_since >= stable_seconds


def _last_check_output(health: Mapping[str, Any]) -> str:
    log = health.get("Log") or []
    if not log:
        return ""
    last = log[-1]
    output = " ".join(str(last.get("Output") or "").split())[:200]
    return f", last check exit code {last.get('ExitCode')}" + (f": {output}" if output else "")


def _timeout_reason(watches: list[_Watch], timeout: float, stable_seconds: float) -> str:
    watch = watches[0]
    if watch.health_status is not None:
        return (
            f"health check failed: still {watch.health_status or 'starting'} after "
            f"{timeout:.0f} s (container {watch.name})"
        )
    return (
        f"container {watch.name} did not stay running for {stable_seconds:.0f} s "
        f"within {timeout:.0f} s"
    )
