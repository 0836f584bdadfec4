"""Discover the services and images of Compose projects, as Compose v2 would load them.

Interpolation takes variables from the shell environment first, then from the project
``.env`` file (or the ``--env-file`` given instead). A service's ``env_file:`` never
feeds interpolation: it only sets the container environment, so a missing one blocks
``up`` but not the image check.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_errors import MissingFileError
from hullcheck.discovery.compose_load import ComposeLoader
from hullcheck.discovery.compose_model import LoadScope, absolute_path, interpolation_problem
from hullcheck.discovery.compose_project import (
    PROJECT_NAME_VARIABLE,
    active_profiles,
    choose_project_name,
    project_env_file,
)
from hullcheck.discovery.compose_services import build_service_image
from hullcheck.discovery.envfile import read_env_file
from hullcheck.discovery.interpolation import InterpolationError
from hullcheck.discovery.models import (
    ComposeProject,
    DiscoveryError,
    DiscoveryProblem,
    DiscoveryResult,
    ProblemKind,
    ServiceImage,
)
from hullcheck.errors import ConfigurationError

logger = logging.getLogger(__name__)

COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
"""File names Compose v2 looks for in a project directory, in order of preference."""
OVERRIDE_FILE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
"""Override files Compose v2 adds when no file is named; only the first one found is used."""
COMPOSE_FILE_VARIABLE = "COMPOSE_FILE"
"""Variable that names the files to load when Compose runs in a directory without ``-f``."""
PATH_SEPARATOR_VARIABLE = "COMPOSE_PATH_SEPARATOR"


def find_compose_files(directory: Path) -> list[Path]:
    """Return the files Compose uses for ``directory``: the main file and one override.

    Returns an empty list when the directory has no Compose file. The override files
    are only added here, never when files are named explicitly.
    """
    main = [directory / name for name in COMPOSE_FILE_NAMES if (directory / name).is_file()]
    if not main:
        return []
    if len(main) > 1:
        logger.warning("several compose files in %s; Compose uses %s", directory, main[0].name)
    overrides = [directory / name for name in OVERRIDE_FILE_NAMES if (directory / name).is_file()]
    if len(overrides) > 1:
        logger.warning(
            "several override files in %s; Compose uses %s", directory, overrides[0].name
        )
    return [main[0], *overrides[:1]]


@dataclass(frozen=True)
class LoadedProject:
    """A loaded Compose project with the full service definitions behind its services."""

    project: ComposeProject
    services: list[ServiceImage]
    configs: dict[str, dict[str, Any]]
    """Service definitions by name after interpolation, merging, ``include`` and
    ``extends``, with ``$$`` already turned into ``$``. A value that failed to
    interpolate is an ``Unresolved`` object, and its problem is on the service."""


def load_project(
    paths: Sequence[Path],
    *,
    env_file: Path | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    project_name: str | None = None,
) -> tuple[ComposeProject, list[ServiceImage]]:
    """Load ``paths`` as one Compose project and list its services.

    See ``load_project_details`` for the arguments and errors.
    """
    loaded = load_project_details(
        paths, env_file=env_file, profiles=profiles, environ=environ, project_name=project_name
    )
    return loaded.project, loaded.services


def load_project_details(
    paths: Sequence[Path],
    *,
    env_file: Path | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    project_name: str | None = None,
) -> LoadedProject:
    """Load ``paths`` as one Compose project (merged in order) with its service definitions.

    A single directory stands for the files that COMPOSE_FILE names (from the shell or
    the directory's ``.env``), or else for those ``find_compose_files`` returns.
    ``environ`` is the shell environment (``os.environ`` when None). Problems in one
    service are recorded on the service and the project. DiscoveryError is raised only
    when a named file or the env file cannot be read or parsed, and ConfigurationError
    for an invalid ``project_name``.
    """
    given = _given_paths(paths)
    directory = given[0] if given[0].is_dir() else None
    shell = dict(os.environ) if environ is None else dict(environ)
    loader = ComposeLoader()

    env_path = project_env_file(env_file, directory or given[0].parent)
    env_values: dict[str, str] = {}
    if env_path is not None:

        def record(key: str, error: InterpolationError) -> None:
            loader.problems.append(interpolation_problem(error, env_path, None, key))

        env_values = read_env_file(env_path, shell, on_error=record)
    variables = {**env_values, **shell}

    files = _directory_files(directory, variables) if directory else given
    working_dir = files[0].parent
    for path in files:
        loader.documents(path)

    name = choose_project_name(project_name, variables, files, loader, working_dir)
    # Compose exposes the project name to interpolation under this variable.
    variables[PROJECT_NAME_VARIABLE] = name
    enabled_profiles = active_profiles(profiles, variables)

    definitions = loader.load_files(files, LoadScope(variables=variables, working_dir=working_dir))
    services = [
        build_service_image(name, definition, enabled_profiles)
        for definition in definitions.values()
    ]

    problems: list[DiscoveryProblem] = []
    for problem in [*loader.problems, *(p for s in services for p in s.problems)]:
        if problem not in problems:
            problems.append(problem)
    project = ComposeProject(
        name=name,
        working_dir=working_dir,
        files=tuple(files),
        env_file=env_path,
        profiles=tuple(enabled_profiles),
        problems=tuple(problems),
    )
    logger.debug(
        "loaded project %s from %s: %d services, %d problems",
        name,
        ", ".join(str(path) for path in files),
        len(services),
        len(problems),
    )
    configs = {service: definition.config for service, definition in definitions.items()}
    return LoadedProject(project=project, services=services, configs=configs)


def discover_compose(
    paths: Sequence[Path],
    *,
    env_file: Path | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    project_name: str | None = None,
) -> DiscoveryResult:
    """Load the projects named by ``paths`` and list their services.

    Files given together form one project, merged in order. Each directory is a
    project of its own. A project that cannot be loaded becomes a problem of the
    result, unless no project can be loaded at all: then its DiscoveryError is raised.
    ``env_file`` applies to every project, ``project_name`` only to a single one.
    """
    groups = _group_paths(paths)
    if project_name is not None and len(groups) > 1:
        raise ConfigurationError(
            f"a project name ({project_name}) applies to one project, but {len(groups)} were given",
            hint="give one directory or one set of files, or drop the project name",
        )

    result = DiscoveryResult()
    errors: list[DiscoveryError] = []
    for group in groups:
        try:
            project, services = load_project(
                group,
                env_file=env_file,
                profiles=profiles,
                environ=environ,
                project_name=project_name,
            )
        except DiscoveryError as error:
            # The error is returned as a problem of the result, so it is only logged here.
            logger.debug("project at %s not loaded: %s", group[0], error)
            errors.append(error)
            missing = isinstance(error, MissingFileError)
            kind = ProblemKind.MISSING_FILE if missing else ProblemKind.INVALID_COMPOSE
            result.problems.append(DiscoveryProblem(kind=kind, message=str(error), file=group[0]))
            continue
        result.projects.append(project)
        result.services.extend(services)

    if errors and not result.projects:
        raise errors[0]
    _flag_duplicate_names(result)
    return result


def _given_paths(paths: Sequence[Path]) -> list[Path]:
    """Return ``paths`` as absolute paths: compose files, or one project directory."""
    if not paths:
        raise DiscoveryError("no compose file given", hint="pass a compose file or directory")
    given = [absolute_path(Path.cwd(), path) for path in paths]
    if len(given) > 1:
        for path in given:
            if path.is_dir():
                raise DiscoveryError(
                    f"{path} is a directory, but it is given together with other paths",
                    hint="give one directory, or the compose files of one project",
                )
    return given


def _directory_files(directory: Path, variables: Mapping[str, str]) -> list[Path]:
    """Return the files Compose loads when it runs in ``directory`` without ``-f``."""
    compose_file = variables.get(COMPOSE_FILE_VARIABLE)
    if compose_file:
        separator = variables.get(PATH_SEPARATOR_VARIABLE) or os.pathsep
        files = [absolute_path(directory, part) for part in compose_file.split(separator) if part]
        logger.debug("%s selects %s", COMPOSE_FILE_VARIABLE, ", ".join(map(str, files)))
        return files
    found = find_compose_files(directory)
    if not found:
        raise MissingFileError(
            f"no compose file in {directory}",
            hint="add one of " + ", ".join(COMPOSE_FILE_NAMES) + " or name the file",
        )
    return found


def _group_paths(paths: Sequence[Path]) -> list[list[Path]]:
    """Group all files into one project and each directory into a project of its own."""
    groups: list[list[Path]] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            groups.append([path])
        else:
            if not files:
                groups.append(files)
            files.append(path)
    return groups


def _flag_duplicate_names(result: DiscoveryResult) -> None:
    """Report projects that share a name, because Compose would treat them as one."""
    seen: dict[str, ComposeProject] = {}
    for project in result.projects:
        other = seen.setdefault(project.name, project)
        if other is not project:
            result.problems.append(
                DiscoveryProblem(
                    kind=ProblemKind.INVALID_COMPOSE,
                    message=(
                        f"projects in {other.working_dir} and {project.working_dir} are both "
                        f"named {project.name}, so their containers would mix; set name: "
                        "in one of them"
                    ),
                    file=project.files[0],
                    blocks_deploy=False,
                )
            )
