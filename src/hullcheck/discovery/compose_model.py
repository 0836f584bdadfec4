"""Service definitions while a Compose project loads, and the problems loading records."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_merge import Unresolved, merge_services
from hullcheck.discovery.interpolation import (
    InterpolationError,
    Interpolator,
    RequiredVariableError,
    ValuePath,
)
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind


@dataclass
class ServiceDefinition:
    """One service as loaded so far, with the files its parts came from."""

    name: str
    config: dict[str, Any]
    file: Path
    """The last file that contributed to the service."""
    image_file: Path | None
    """The file whose ``image:`` line is in effect."""
    problems: list[DiscoveryProblem] = field(default_factory=list)
    empty: bool = False
    """True when every file wrote the service with a null or non-mapping body."""


@dataclass(frozen=True)
class LoadScope:
    """The environment that one Compose file is loaded in."""

    variables: Mapping[str, str]
    """Interpolation variables: shell environment first, then the env file."""
    working_dir: Path
    """Directory that relative paths in service definitions start from."""
    include_chain: tuple[Path, ...] = ()
    """Files whose ``include`` led to this one, outermost first."""


def absolute_path(base: Path, text: str | Path) -> Path:
    """Join ``text`` onto ``base`` unless it is absolute, and remove ``.`` and ``..``."""
    return Path(os.path.normpath(base / Path(text).expanduser()))


def location(parts: Sequence[str | int]) -> str:
    """Format a YAML path as ``services.web.healthcheck.test[1]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def combine(base: ServiceDefinition | None, override: ServiceDefinition) -> ServiceDefinition:
    """Merge ``override`` onto ``base``, which comes from an earlier file or ``extends``."""
    config = merge_services(base.config if base else {}, override.config)
    if "image" in override.config:
        image_file = override.image_file
    else:
        image_file = base.image_file if base else None
    problems = list(base.problems) if base else []
    problems.extend(problem for problem in override.problems if problem not in problems)
    return ServiceDefinition(
        name=override.name,
        config=config,
        file=override.file,
        image_file=image_file,
        problems=problems,
        empty=override.empty and (base is None or base.empty),
    )


def empty_service(name: str, body: Any, path: Path) -> ServiceDefinition:
    """Return a placeholder for a service whose body is null or not a mapping."""
    if body is None:
        message = f"service {name} in {path} has an empty definition; give it an image or a build"
    else:
        message = f"service {name} in {path} must be a mapping, not a {type(body).__name__}"
    problem = DiscoveryProblem(
        kind=ProblemKind.INVALID_COMPOSE, message=message, file=path, service=name
    )
    return ServiceDefinition(name, {}, path, None, [problem], empty=True)


def record_interpolation_error(
    sink: list[DiscoveryProblem], path: Path, service: str | None
) -> Callable[[ValuePath, InterpolationError], Unresolved]:
    """Return an ``on_error`` handler that records a problem and marks the value."""

    def record(value_path: ValuePath, error: InterpolationError) -> Unresolved:
        sink.append(interpolation_problem(error, path, service, location(value_path)))
        return Unresolved(error.text)

    return record


def interpolation_problem(
    error: InterpolationError, path: Path, service: str | None, where: str
) -> DiscoveryProblem:
    """Describe a failed interpolation at ``where`` in ``path`` as a blocking problem."""
    if isinstance(error, RequiredVariableError):
        reason = error.reason or "a value is required"
        return DiscoveryProblem(
            kind=ProblemKind.MISSING_VARIABLE,
            message=(
                f"{error.variable}: {reason} (needed by {where} in {path}); "
                f"set {error.variable} in the shell or the .env file"
            ),
            file=path,
            service=service,
            variable=error.variable,
        )
    return DiscoveryProblem(
        kind=ProblemKind.INVALID_INTERPOLATION,
        message=f"{error.message} ({where} in {path}); write '$$' for a literal '$'",
        file=path,
        service=service,
    )


def missing_variable_warnings(
    interpolator: Interpolator, path: Path, service: str | None
) -> list[DiscoveryProblem]:
    """Turn the unset variables an interpolator met into warnings that do not block ``up``."""
    where = f"service {service} in {path}" if service else str(path)
    return [
        DiscoveryProblem(
            kind=ProblemKind.MISSING_VARIABLE,
            message=f"variable {name} is not set, so it is an empty string in {where}",
            file=path,
            service=service,
            variable=name,
            blocks_deploy=False,
        )
        for name in interpolator.missing
    ]
