"""Discovery results: services, their images and the problems found on the way."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from hullcheck.errors import HullcheckError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"


class DiscoveryError(HullcheckError):
    """Discovery could not read a compose project or the Docker engine at all."""


class InvalidReferenceError(DiscoveryError):
    """An image reference that Docker would reject."""


class ImageReference(BaseModel):
    """A parsed image reference, normalised the way Docker does it.

    ``original`` keeps the user's spelling for display and for rewriting files.
    """

    model_config = ConfigDict(frozen=True)

    original: str
    registry: str
    """Registry host with optional port; ``docker.io`` for Docker Hub."""
    repository: str
    """Path inside the registry; ``library/nginx`` for official Hub images."""
    tag: str | None = None
    """The tag as written; None when only a digest was given."""
    digest: str | None = None

    @property
    def effective_tag(self) -> str | None:
        """The tag Docker uses: ``latest`` when neither a tag nor a digest is written."""
        if self.tag is None and self.digest is None:
            return "latest"
        return self.tag

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def normalized(self) -> str:
        """The full key: ``docker.io/library/nginx:latest``, with ``@digest`` when pinned."""
        text = self.name
        if self.effective_tag is not None:
            text += f":{self.effective_tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def pinned(self) -> bool:
        """True when a digest is written, so the tag alone does not decide the content."""
        return self.digest is not None

    @property
    def api_host(self) -> str:
        """Host that serves the registry API (``registry-1.docker.io`` for Docker Hub)."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry


class ProblemKind(StrEnum):
    MISSING_VARIABLE = "missing_variable"
    """A ``${VAR:?msg}`` or ``${VAR?msg}`` whose variable is unset (or empty for ``:?``)."""
    INVALID_INTERPOLATION = "invalid_interpolation"
    MISSING_FILE = "missing_file"
    INVALID_REFERENCE = "invalid_reference"
    INVALID_COMPOSE = "invalid_compose"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    ACCEPTANCE_EXPIRED = "acceptance_expired"
    """A risk-register entry expired, so its finding counts again (not a discovery fault)."""


class DiscoveryProblem(BaseModel):
    """A problem that stops one service, or a deployment, but not the whole discovery."""

    kind: ProblemKind
    message: str
    """One line naming the variable, file or value and what to do."""
    file: Path | None = None
    service: str | None = None
    variable: str | None = None
    blocks_deploy: bool = True
    """True when ``docker compose up`` for the project would fail because of it."""


class ServiceImage(BaseModel):
    """One service of one compose project (or one running container) and its image."""

    project: str
    service: str
    image: ImageReference | None = None
    """None when there is no valid reference (a build-only service or an invalid value)."""
    image_text: str | None = None
    """The image value after interpolation, as the user spelt it."""
    local_build: bool = False
    """True for services with ``build:``: never sent to a registry."""
    local_image_name: str | None = None
    """Name of the locally built image (``image:`` or ``<project>-<service>``)."""
    active: bool = True
    """False for a service whose profiles are all inactive and that has no running container."""
    profiles: tuple[str, ...] = ()
    defined_in: Path | None = None
    """The compose file whose ``image:`` line defines the image."""
    container_names: tuple[str, ...] = ()
    running_image_id: str | None = None
    """Image ID (``sha256:...``) of the running container, when one runs."""
    problems: tuple[DiscoveryProblem, ...] = ()
    labels: dict[str, str] = {}
    """Service labels after interpolation (``$$`` already turned into ``$``)."""

    @property
    def pinned(self) -> bool:
        return self.image is not None and self.image.pinned


class ComposeProject(BaseModel):
    """A compose project as Compose would load it."""

    name: str
    working_dir: Path
    files: tuple[Path, ...]
    env_file: Path | None = None
    profiles: tuple[str, ...] = ()
    """Profiles that were active when the project was loaded."""
    problems: tuple[DiscoveryProblem, ...] = ()

    @property
    def deployable(self) -> bool:
        """False when ``up`` would fail, for example because a required variable is unset."""
        return not any(problem.blocks_deploy for problem in self.problems)


class DiscoveryResult(BaseModel):
    projects: list[ComposeProject] = []
    services: list[ServiceImage] = []
    problems: list[DiscoveryProblem] = []
    """Problems not tied to one project (an unreachable engine, an unreadable path)."""

    def all_problems(self) -> list[DiscoveryProblem]:
        """Return every problem once, in discovery order: global, per project, then per service."""
        found: list[DiscoveryProblem] = []
        sources = [
            self.problems,
            *(p.problems for p in self.projects),
            *(s.problems for s in self.services),
        ]
        for problems in sources:
            found.extend(problem for problem in problems if problem not in found)
        return found
