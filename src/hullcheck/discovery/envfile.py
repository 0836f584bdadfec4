"""Read the ``.env`` file (or ``--env-file``) that feeds Compose interpolation.

This is not the ``env_file:`` of a service: that one only sets the container
environment and never takes part in interpolation.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from hullcheck.discovery.compose_errors import MissingFileError
from hullcheck.discovery.interpolation import InterpolationError, Interpolator
from hullcheck.discovery.models import DiscoveryError

logger = logging.getLogger(__name__)

PROJECT_ENV_FILE = ".env"

_SINGLE_QUOTED_VALUE_RE = re.compile(r"\s*(?:export\s+)?(?:'[^']*'|[^=\s#]+)\s*=\s*'")


def read_env_file(
    path: Path,
    environ: Mapping[str, str],
    *,
    on_error: Callable[[str, InterpolationError], None] | None = None,
    missing: list[str] | None = None,
) -> dict[str, str]:
    """Return the variables of the env file ``path`` with ``${...}`` expanded.

    Values are expanded as Compose v2 does: a reference resolves from ``environ`` (the
    shell environment) first, then from the lines above it. Single-quoted values stay
    literal. A key that is also set in ``environ`` takes the shell's value, because the
    shell wins over the file. A line with a key and no ``=`` copies the variable from
    ``environ`` and is dropped when the shell does not set it.

    ``on_error`` receives the key and error of each value that cannot be expanded (the
    value is then left out); without it the error is raised. Names of variables that
    were referenced but unset are appended to ``missing``.

    Raises DiscoveryError when the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise MissingFileError(
            f"env file not found: {path}",
            hint="create it or pass an existing file to --env-file",
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise DiscoveryError(f"failed to read env file {path}: {error}") from error

    raw_values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    literal_keys = _single_quoted_keys(text)

    values: dict[str, str] = {}
    for key, raw in raw_values.items():
        if raw is None:
            if key in environ:
                values[key] = environ[key]
            continue
        if key in literal_keys:
            values[key] = raw
        else:
            # Earlier lines already hold the shell's value for their keys, so a plain
            # overlay gives "shell first, then the lines above".
            interpolator = Interpolator({**values, **environ})
            try:
                values[key] = interpolator.substitute(raw)
            except InterpolationError as error:
                if on_error is None:
                    raise InterpolationError(
                        f"{path}: {key}: {error.message}", text=error.text, hint=error.hint
                    ) from error
                on_error(key, error)
                continue
            if missing is not None:
                missing.extend(name for name in interpolator.missing if name not in missing)
        if key in environ:
            values[key] = environ[key]

    logger.debug("read %d variables from %s", len(values), path)
    return values


def _single_quoted_keys(text: str) -> set[str]:
    """Return the keys whose last assignment in ``text`` is a single-quoted value."""
    keys: set[str] = set()
    for binding in parse_stream(io.StringIO(text)):
        if binding.key is None or binding.error:
            continue
        if binding.value is not None and _SINGLE_QUOTED_VALUE_RE.match(binding.original.string):
            keys.add(binding.key)
        else:
            keys.discard(binding.key)
    return keys
