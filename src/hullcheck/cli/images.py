"""``hullcheck images``: list the services and images that discovery finds."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.cli.common import (
    DockerHostOption,
    EnvFileOption,
    PathsArgument,
    ProfileOption,
    ProjectNameOption,
    RunningOption,
    discover,
    print_problems,
)
from hullcheck.cli.console import report_console
from hullcheck.discovery.models import DiscoveryResult, ServiceImage

IMAGES_SCHEMA_VERSION = 1


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def service_row(service: ServiceImage) -> dict[str, object]:
    """Describe one service for the JSON listing."""
    return {
        "project": service.project,
        "service": service.service,
        "image": service.image.normalized if service.image else None,
        "image_text": service.image_text,
        "registry": service.image.registry if service.image else None,
        "repository": service.image.repository if service.image else None,
        # The tag Docker uses: latest when none is written and no digest pins the image.
        "tag": service.image.effective_tag if service.image else None,
        "digest": service.image.digest if service.image else None,
        "pinned": service.pinned,
        "local_build": service.local_build,
        "local_image": service.local_image_name,
        "active": service.active,
        "profiles": list(service.profiles),
        "defined_in": str(service.defined_in) if service.defined_in else None,
        "containers": list(service.container_names),
        "problems": [problem.message for problem in service.problems],
    }


def render_images_json(result: DiscoveryResult) -> str:
    document = {
        "schema_version": IMAGES_SCHEMA_VERSION,
        "projects": [
            {
                "name": project.name,
                "working_dir": str(project.working_dir),
                "files": [str(path) for path in project.files],
                "deployable": project.deployable,
                "problems": [problem.message for problem in project.problems],
            }
            for project in result.projects
        ],
        "services": [service_row(service) for service in result.services],
        "problems": [problem.message for problem in result.all_problems()],
    }
    return json.dumps(document, indent=2)


def render_images_table(result: DiscoveryResult, console: Console) -> None:
    table = Table(title="Discovered images", title_justify="left")
    for column in ("Project", "Service", "Image", "Pinned", "Notes"):
        table.add_column(column)
    for service in result.services:
        notes = []
        if service.local_build:
            notes.append("locally built: no registry check")
        if service.image is not None and service.image.tag is None and service.image.digest:
            notes.append("no tag: a digest-only reference cannot be tracked")
        if not service.active:
            notes.append(f"not deployed (inactive profile: {', '.join(service.profiles)})")
        if service.container_names:
            notes.append(f"running as {', '.join(service.container_names)}")
        notes.extend(problem.message for problem in service.problems)
        image = service.image_text or service.local_image_name or "(none)"
        # Text cells keep brackets in values and messages from being read as Rich markup.
        cells = (
            service.project,
            service.service,
            image,
            "yes" if service.pinned else "no",
            "; ".join(notes),
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    for project in result.projects:
        if not project.deployable:
            reasons = sorted({p.variable or p.message for p in project.problems if p.blocks_deploy})
            console.print(
                Text(f"Project {project.name} cannot be deployed until fixed: {', '.join(reasons)}")
            )


def images_command(
    paths: PathsArgument = None,
    env_file: EnvFileOption = None,
    profile: ProfileOption = None,
    project_name: ProjectNameOption = None,
    running: RunningOption = False,
    docker_host: DockerHostOption = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json.")
    ] = ListFormat.TABLE,
) -> None:
    """List every service and its image, as Compose would resolve them."""
    result, _client, _error = discover(
        paths,
        env_file=env_file,
        profiles=profile,
        project_name=project_name,
        running=running,
        docker_host=docker_host,
        need_engine=False,
    )
    print_problems(result.all_problems())
    if output_format is ListFormat.JSON:
        typer.echo(render_images_json(result))
    else:
        render_images_table(result, report_console())


def register(app: typer.Typer) -> None:
    app.command("images")(images_command)
