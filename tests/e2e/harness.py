"""Run the real ``hullcheck`` app in-process and point it at the lab."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from hullcheck.cli.main import get_app
from hullcheck.lab.services import Lab

REAL_TRIVY = Path(shutil.which("trivy", path=os.path.dirname(sys.executable)) or "trivy")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})
    return runner.invoke(get_app(), [str(arg) for arg in args], catch_exceptions=False)


def lab_scan_arguments(
    lab: Lab, cache: Path, data_dir: Path, trivy: Path | None = None
) -> list[str]:
    """Options that make ``scan`` use the lab engine and the fixture DB, offline."""
    arguments = [
        "--docker-host",
        lab.docker_host,
        "--cache-dir",
        str(cache),
        "--db-update",
        "skip",
        "--db",
        str(data_dir / "history.db"),
    ]
    if trivy is not None:
        arguments += ["--trivy", str(trivy)]
    return arguments


def copy_cache(source: Path, destination: Path) -> Path:
    """Give a test its own Trivy cache, since two Trivy processes cannot share one."""
    shutil.copytree(source, destination)
    return destination


def counting_trivy(directory: Path) -> tuple[Path, Path]:
    """Write a wrapper that logs each Trivy sub-command, then runs the real Trivy."""
    log = directory / "trivy-calls.log"
    wrapper = directory / "trivy"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{REAL_TRIVY}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, log


def trivy_calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def report(result: Result) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document
