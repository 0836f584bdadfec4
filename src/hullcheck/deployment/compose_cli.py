"""Run Compose itself: v2 (``docker compose``) when present, else v1 (``docker-compose``)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from hullcheck.errors import HullcheckError

logger = logging.getLogger(__name__)


class ComposeError(HullcheckError):
    """Compose is missing or a Compose command failed."""


def compose_command(env: Mapping[str, str] | None = None) -> list[str]:
    """Return the Compose command line prefix, preferring the v2 plugin."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"],
            capture_output=True,
            text=True,
            check=False,
            env=dict(env) if env else None,
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ComposeError(
        "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed",
        hint="install the Compose plugin, or on Debian: apt-get install docker-compose",
    )


def run_compose(
    files: Sequence[Path],
    arguments: Sequence[str],
    *,
    project: str | None = None,
    working_dir: Path | None = None,
    profiles: Sequence[str] = (),
    env_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run one Compose command for a project and raise ComposeError when it fails."""
    command = compose_command(env)
    for path in files:
        command += ["-f", str(path)]
    if project:
        command += ["-p", project]
    if working_dir:
        command += ["--project-directory", str(working_dir)]
    if env_file:
        command += ["--env-file", str(env_file)]
    for profile in profiles:
        command += ["--profile", profile]
    command += list(arguments)
    logger.debug("Running %s", " ".join(command))
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env else None,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ComposeError(f"'{' '.join(arguments)}' timed out after {int(timeout)} s") from error
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise ComposeError(f"compose {' '.join(arguments)} failed: {' | '.join(detail)}")
    return completed
