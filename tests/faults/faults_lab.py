"""Helpers for the fault tests: run the real ``hullcheck`` app, read its history, fake Trivy.

Stand-in Trivy scripts fail only for the images named in them. Every other call goes to
the real Trivy binary, with ``--offline-scan`` added so that it never leaves loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from hullcheck.cli.main import get_app
from hullcheck.lab.services import Lab
from hullcheck.run import RunRecord
from hullcheck.storage import HistoryStore

REAL_TRIVY = Path(shutil.which("trivy", path=os.path.dirname(sys.executable)) or "trivy")


@dataclass
class Stack:
    lab: Lab
    directory: Path
    compose: Path
    project: str

    def container_id(self, service: str) -> str:
        [container] = self.lab.client().containers.list(
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                ]
            }
        )
        return str(container.id)


StackFactory = Callable[[dict[str, str]], Stack]
"""Start a one-project stack of ``{service: image}`` (the ``make_stack`` fixture)."""


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})
    return runner.invoke(get_app(), [str(arg) for arg in args], catch_exceptions=False)


def scan_arguments(lab: Lab, cache: Path, history: Path, trivy: Path | None = None) -> list[str]:
    """Options that make ``scan`` use ``lab``'s engine and the fixture DB, offline."""
    arguments = [
        "--docker-host",
        lab.docker_host,
        "--cache-dir",
        str(cache),
        "--db-update",
        "skip",
        "--db",
        str(history),
    ]
    if trivy is not None:
        arguments += ["--trivy", str(trivy)]
    return arguments


def update_stack(stack: Stack, cache: Path, history: Path, *extra: str) -> Result:
    return invoke(
        "update",
        stack.directory,
        "--format",
        "json",
        "--project-name",
        stack.project,
        "--docker-host",
        stack.lab.docker_host,
        "--cache-dir",
        cache,
        "--db-update",
        "skip",
        "--db",
        history,
        "--stable-seconds",
        "1",
        "--health-timeout",
        "30",
        *extra,
    )


def write_compose(directory: Path, services: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["services:"]
    for name, image in services.items():
        lines += [f"  {name}:", f"    image: {image}"]
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def copy_cache(source: Path, destination: Path) -> Path:
    """Give a test its own Trivy cache, since two Trivy processes cannot share one."""
    shutil.copytree(source, destination)
    return destination


def json_document(result: Result) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def history_runs(history: Path) -> list[dict[str, Any]]:
    """The runs that ``hullcheck history --format json`` lists, newest first."""
    result = invoke("history", "--format", "json", "--db", history)
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert isinstance(runs, list)
    return runs


def stored_run(history: Path, run_id: int) -> RunRecord:
    """The run as stored, with its images and service results."""
    with HistoryStore.open(history, create=False) as store:
        return store.load_run(run_id)


def image_entry(document: dict[str, Any], service: str) -> dict[str, Any]:
    """The report entry of the image that ``service`` uses."""
    for image in document["images"]:
        if any(label.endswith(f"/{service}") for label in image["services"]):
            return image  # type: ignore[no-any-return]
    raise AssertionError(f"no image for service {service} in {document['images']}")


def service_result(document: dict[str, Any], service: str) -> dict[str, Any]:
    [entry] = [s for s in document["services"] if s["service"] == service]
    return entry  # type: ignore[no-any-return]


def stand_in_trivy(directory: Path, *, failing: str, action: str) -> Path:
    """Write a trivy that runs ``action`` (shell) when an image scan names ``failing``.

    Every other call runs the real Trivy. ``action`` gets the arguments as ``$@``.
    """
    script = directory / "trivy"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '    image|rootfs|sbom) offline="--offline-scan" ;;\n'
        '    *) offline="" ;;\n'
        "esac\n"
        'for argument in "$@"; do last="$argument"; done\n'
        f'if [ "$1" = "image" ]; then case "$last" in *{failing}*)\n'
        f"    {action}\n"
        ";; esac; fi\n"
        f'exec "{REAL_TRIVY}" "$@" $offline\n'
    )
    script.chmod(0o755)
    return script
