"""Discovery from running containers on the lab engine, through the Compose labels."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import invoke, report

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.discovery.compose import discover_compose
from hullcheck.discovery.running import config_files_from_labels, discover_running, merge_running
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab


@pytest.fixture
def profiled_stack(lab: Lab, lab_repository: str, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project whose ``debug`` service runs although its profile is not active by default."""
    published = publish(lab, "debian-base", lab_repository, "1")
    project = f"prof{secrets.token_hex(3)}"
    directory = tmp_path / project
    directory.mkdir()
    compose = directory / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  app:\n"
        f"    image: {published.reference}\n"
        '    command: ["sleep", "infinity"]\n'
        "  debug:\n"
        f"    image: {published.reference}\n"
        '    command: ["sleep", "infinity"]\n'
        '    profiles: ["debug"]\n'
    )
    run_compose([compose], ["up", "-d"], project=project, profiles=["debug"], env=lab.env())
    try:
        yield compose, project
    finally:
        run_compose(
            [compose],
            ["--profile", "debug", "down", "--timeout", "1"],
            project=project,
            env=lab.env(),
        )


def test_running_profile_service_checked(lab: Lab, profiled_stack: tuple[Path, str]) -> None:
    compose, project = profiled_stack

    loaded = discover_compose([compose], environ={}, project_name=project)
    before = {service.service: service.active for service in loaded.services}
    merged = merge_running(loaded, discover_running(lab.client()), include_unmatched=False)

    assert before == {"app": True, "debug": False}
    debug = next(service for service in merged.services if service.service == "debug")
    assert debug.active
    assert debug.container_names
    assert debug.running_image_id and debug.running_image_id.startswith("sha256:")


def test_running_labels_name_compose_file(lab: Lab, profiled_stack: tuple[Path, str]) -> None:
    compose, project = profiled_stack

    containers = [
        container
        for container in lab.client().containers.list()
        if container.labels.get("com.docker.compose.project") == project
    ]

    assert len(containers) == 2
    for container in containers:
        assert config_files_from_labels(container.labels) == (compose,)


def test_config_files_label_split() -> None:
    labels = {
        "com.docker.compose.project.working_dir": "/srv/immich",
        "com.docker.compose.project.config_files": "/srv/immich/compose.yaml,override.yaml",
    }

    files = config_files_from_labels(labels)

    assert files == (Path("/srv/immich/compose.yaml"), Path("/srv/immich/override.yaml"))


def test_images_running_json(lab: Lab, profiled_stack: tuple[Path, str]) -> None:
    _compose, project = profiled_stack

    result = invoke("images", "--running", "--format", "json", "--docker-host", lab.docker_host)

    assert result.exit_code == 0, result.stderr
    services = {(s["project"], s["service"]): s for s in report(result)["services"]}
    assert (project, "app") in services
    assert (project, "debug") in services
    assert services[(project, "app")]["image"].startswith(lab.registry)
    assert services[(project, "app")]["pinned"] is False
