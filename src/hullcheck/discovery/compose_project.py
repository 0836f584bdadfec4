"""Project-wide settings of a Compose project: its env file, name and active profiles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from hullcheck.discovery.compose_errors import MissingFileError
from hullcheck.discovery.compose_load import ComposeLoader
from hullcheck.discovery.compose_model import absolute_path, record_interpolation_error
from hullcheck.discovery.envfile import PROJECT_ENV_FILE
from hullcheck.discovery.interpolation import Interpolator
from hullcheck.discovery.models import DiscoveryError
from hullcheck.errors import ConfigurationError

PROJECT_NAME_VARIABLE = "COMPOSE_PROJECT_NAME"
PROFILES_VARIABLE = "COMPOSE_PROFILES"

_PROJECT_NAME_CHARACTER_RE = re.compile(r"[a-z0-9_-]")
_NAME_HINT = "use lower-case letters, digits, '-' and '_', starting with a letter or digit"


def normalize_project_name(text: str) -> str:
    """Lower-case ``text``, keep only ``[a-z0-9_-]`` and strip leading ``_`` and ``-``.

    This is ``NormalizeProjectName`` of ``compose-go``.
    """
    allowed = "".join(_PROJECT_NAME_CHARACTER_RE.findall(text.lower()))
    return allowed.lstrip("_-")


def project_env_file(env_file: Path | None, working_dir: Path) -> Path | None:
    """Return the env file for interpolation: ``env_file`` if given, else ``.env`` if present.

    Raises DiscoveryError when ``env_file`` is given but does not exist. A missing
    project ``.env`` is normal and gives None.
    """
    if env_file is not None:
        path = absolute_path(Path.cwd(), env_file)
        if not path.is_file():
            raise MissingFileError(
                f"env file not found: {path}", hint="pass an existing file to --env-file"
            )
        return path
    default = working_dir / PROJECT_ENV_FILE
    return default if default.is_file() else None


def choose_project_name(
    explicit: str | None,
    variables: Mapping[str, str],
    files: Sequence[Path],
    loader: ComposeLoader,
    working_dir: Path,
) -> str:
    """Pick the project name in the order Compose v2 uses.

    The order is ``explicit`` (``-p``), then COMPOSE_PROJECT_NAME (shell, then env file),
    then the last ``name:`` of the files (interpolated), then the project directory's
    name. The last two are normalised. The first two must already be valid: an invalid
    ``explicit`` raises ConfigurationError and an invalid variable DiscoveryError.
    """
    if explicit is not None:
        if not explicit or normalize_project_name(explicit) != explicit:
            raise ConfigurationError(f"invalid project name {explicit!r}", hint=_NAME_HINT)
        return explicit

    from_environment = variables.get(PROJECT_NAME_VARIABLE)
    if from_environment:
        if normalize_project_name(from_environment) != from_environment:
            raise DiscoveryError(
                f"invalid {PROJECT_NAME_VARIABLE} {from_environment!r}", hint=_NAME_HINT
            )
        return from_environment

    from_files = ""
    for path in files:
        for document in loader.documents(path):
            value = document.get("name")
            if value is None:
                continue
            text = Interpolator(variables).interpolate(
                value,
                path=("name",),
                on_error=record_interpolation_error(loader.problems, path, None),
            )
            if isinstance(text, str | int | float) and str(text):
                from_files = normalize_project_name(str(text))
    if from_files:
        return from_files

    name = normalize_project_name(working_dir.name)
    if not name:
        raise DiscoveryError(
            f"cannot derive a project name from the directory {working_dir}",
            hint="set name: in the compose file or pass a project name",
        )
    return name


def active_profiles(profiles: Sequence[str], variables: Mapping[str, str]) -> list[str]:
    """Return ``profiles`` if any, else the comma-separated COMPOSE_PROFILES."""
    if profiles:
        return list(profiles)
    raw = variables.get(PROFILES_VARIABLE, "")
    return [profile.strip() for profile in raw.split(",") if profile.strip()]
