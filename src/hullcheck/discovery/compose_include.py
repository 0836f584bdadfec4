"""Top-level ``include``: load other Compose projects and add their services.

Each included file keeps its own project directory (by default its own directory) and
its own ``.env``. Paths in an entry are relative to the including file. Variables of
the including project win over the included ``.env``, as in ``compose-go``'s
``ApplyInclude``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullcheck.discovery.compose_errors import MissingFileError
from hullcheck.discovery.compose_model import (
    LoadScope,
    ServiceDefinition,
    absolute_path,
    interpolation_problem,
    missing_variable_warnings,
    record_interpolation_error,
)
from hullcheck.discovery.envfile import PROJECT_ENV_FILE, read_env_file
from hullcheck.discovery.interpolation import InterpolationError, Interpolator
from hullcheck.discovery.models import DiscoveryError, DiscoveryProblem, ProblemKind

if TYPE_CHECKING:
    from hullcheck.discovery.compose_load import ComposeLoader


def apply_include(
    loader: ComposeLoader,
    document: dict[str, Any],
    path: Path,
    scope: LoadScope,
    services: dict[str, ServiceDefinition],
) -> None:
    """Add the services of the ``include`` entries of ``document`` to ``services``.

    A service that is already defined with another body is kept and reported, because
    Compose rejects such a project.
    """
    entries = document.get("include")
    if entries is None:
        return
    if not isinstance(entries, list):
        _problem(loader, ProblemKind.INVALID_COMPOSE, f"'include' in {path} must be a list", path)
        return
    interpolator = Interpolator(scope.variables)
    entries = interpolator.interpolate(
        entries,
        path=("include",),
        on_error=record_interpolation_error(loader.problems, path, None),
    )
    loader.problems.extend(missing_variable_warnings(interpolator, path, None))

    for index, entry in enumerate(entries):
        included = _load_entry(loader, entry, f"include[{index}] in {path}", path, scope)
        for name, definition in included.items():
            existing = services.get(name)
            if existing is None:
                services[name] = definition
            elif existing.config != definition.config:
                _problem(
                    loader,
                    ProblemKind.INVALID_COMPOSE,
                    f"service {name} included from {definition.file} conflicts with the "
                    f"service of the same name in {path}, and Compose rejects the project; "
                    "rename one of them",
                    path,
                    service=name,
                )


def _load_entry(
    loader: ComposeLoader, entry: Any, where: str, path: Path, scope: LoadScope
) -> dict[str, ServiceDefinition]:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        _problem(loader, ProblemKind.INVALID_COMPOSE, f"{where} must be a path or a mapping", path)
        return {}
    paths = _string_list(entry.get("path"))
    env_files = _string_list(entry.get("env_file"))
    project_directory = entry.get("project_directory")
    if not paths or env_files is None or not isinstance(project_directory, str | None):
        _problem(
            loader,
            ProblemKind.INVALID_COMPOSE,
            f"{where} needs 'path' (a path or a list of paths), and 'env_file' and "
            "'project_directory' must be paths",
            path,
        )
        return {}

    files = [absolute_path(path.parent, item) for item in paths]
    chain = (*scope.include_chain, path)
    if files[0] in chain:
        cycle = " -> ".join(str(item) for item in (*chain, files[0]))
        _problem(loader, ProblemKind.INVALID_COMPOSE, f"include cycle: {cycle}", path)
        return {}
    if project_directory:
        working_dir = absolute_path(path.parent, project_directory)
    else:
        working_dir = files[0].parent
    variables = _entry_variables(loader, env_files, working_dir, where, path, scope)
    if variables is None:
        return {}

    child = LoadScope(variables=variables, working_dir=working_dir, include_chain=chain)
    try:
        return loader.load_files(files, child)
    except DiscoveryError as error:
        missing = isinstance(error, MissingFileError)
        kind = ProblemKind.MISSING_FILE if missing else ProblemKind.INVALID_COMPOSE
        _problem(loader, kind, f"{where}: {error}", path)
        return {}


def _entry_variables(
    loader: ComposeLoader,
    env_files: list[str],
    working_dir: Path,
    where: str,
    path: Path,
    scope: LoadScope,
) -> dict[str, str] | None:
    """Return the variables for an included file, or None when an env file is missing.

    Without ``env_file`` the included project's own ``.env`` is read when it exists.
    """
    if env_files:
        candidates = [absolute_path(path.parent, item) for item in env_files]
    else:
        default = working_dir / PROJECT_ENV_FILE
        candidates = [default] if default.is_file() else []

    values: dict[str, str] = {}
    for env_path in candidates:

        def record(key: str, error: InterpolationError, env_path: Path = env_path) -> None:
            loader.problems.append(interpolation_problem(error, env_path, None, key))

        try:
            values.update(read_env_file(env_path, scope.variables, on_error=record))
        except DiscoveryError as error:
            _problem(loader, ProblemKind.MISSING_FILE, f"{where}: {error}", path)
            return None
    return {**values, **scope.variables}


def _problem(
    loader: ComposeLoader,
    kind: ProblemKind,
    message: str,
    path: Path,
    *,
    service: str | None = None,
) -> None:
    loader.problems.append(DiscoveryProblem(kind=kind, message=message, file=path, service=service))


def _string_list(value: Any) -> list[str] | None:
    """Return ``value`` as a list of strings: [] for None, None when it has another type."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None
