"""Docker Engine access shared by discovery, scanning and deployment."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

from hullcheck.errors import ConfigurationError, HullcheckError

logger = logging.getLogger(__name__)


class EngineError(HullcheckError):
    """The Docker engine is unreachable or refused a request."""


@dataclass(frozen=True)
class LocalImage:
    image_id: str
    repo_digests: tuple[str, ...]
    repo_tags: tuple[str, ...]


DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://", "npipe://")


def validate_docker_host(docker_host: str) -> None:
    """Raise ConfigurationError for an address the Docker SDK cannot use."""
    if not docker_host.startswith(DOCKER_HOST_SCHEMES):
        raise ConfigurationError(
            f"invalid Docker host {docker_host!r}",
            hint="write it as unix:///var/run/docker.sock or tcp://HOST:PORT",
        )


def connect(docker_host: str | None = None, *, timeout: int = 120) -> docker.DockerClient:
    """Connect to the engine at ``docker_host`` (else DOCKER_HOST, else the default socket)."""
    if docker_host:
        validate_docker_host(docker_host)
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default socket"
        raise EngineError(
            f"cannot reach the Docker engine at {where}: {_plain_reason(error)}",
            hint="start Docker, or point --docker-host or DOCKER_HOST at its socket, e.g. unix:///var/run/docker.sock",
        ) from error
    return client


def _plain_reason(error: Exception) -> str:
    """Name the cause of a connection failure without the SDK's nested exception text."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, FileNotFoundError):
            return "the socket does not exist"
        if isinstance(cause, PermissionError):
            return "permission denied on the socket (run as root or join the docker group)"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = (
            cause.__cause__
            or cause.__context__
            or (
                cause.args[1]
                if len(cause.args) > 1 and isinstance(cause.args[1], BaseException)
                else None
            )
        )
    text = str(error)
    return "no answer" if "timed out" in text.lower() else "connection failed"


def inspect_image(client: docker.DockerClient, name: str) -> LocalImage | None:
    """Return the local image called ``name`` (tag, digest or ID), or None when absent."""
    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as error:
        # The engine returns 400 for names it cannot parse, so treat them as absent.
        if error.status_code == 400:
            return None
        raise EngineError(f"Docker engine failed to inspect {name}: {error.explanation}") from error
    return _local_image(image)


def pull_image(
    client: docker.DockerClient, repository: str, *, tag: str | None, digest: str | None
) -> LocalImage:
    """Pull one image by digest (when pinned) or by tag and return it."""
    reference = f"{repository}@{digest}" if digest else f"{repository}:{tag or 'latest'}"
    hint = "check the image name, the tag, and registry credentials (docker login)"
    try:
        # The engine reports a failed pull (a registry error on a layer, say) inside the
        # progress stream with HTTP 200, so the stream is read here: the SDK's pull drops
        # it and then fails with a misleading "No such image".
        progress = client.api.pull(
            repository, tag=digest or tag or "latest", stream=True, decode=True
        )
        for event in progress:
            if isinstance(event, dict) and event.get("error"):
                detail = event.get("errorDetail") or {}
                message = detail.get("message") if isinstance(detail, dict) else None
                raise EngineError(
                    f"pull of {reference} failed: {message or event['error']}", hint=hint
                )
        image = client.images.get(reference)
    except docker.errors.APIError as error:
        raise EngineError(
            f"pull of {reference} failed: {error.explanation or error}", hint=hint
        ) from error
    except requests.exceptions.RequestException as error:
        raise EngineError(f"pull of {reference} failed: {error}") from error
    return _local_image(image)


def _local_image(image: docker.models.images.Image) -> LocalImage:
    attrs = image.attrs
    return LocalImage(
        image_id=str(image.id),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
        repo_tags=tuple(attrs.get("RepoTags") or ()),
    )
