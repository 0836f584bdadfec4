"""Compose targets from container labels, services joined to their namespaces, and platforms."""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_stacks import StackFactory, load_with_architecture

from hullcheck.deployment.preflight import check_platform, normalize_architecture
from hullcheck.deployment.target import (
    DeploymentError,
    dependants,
    target_from_container,
    target_from_labels,
)
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab

WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"


def _labels(**extra: str) -> dict[str, str]:
    return {
        "com.docker.compose.project": "immich",
        "com.docker.compose.service": "server",
        WORKING_DIR: "/srv/immich",
        CONFIG_FILES: "/srv/immich/compose.yaml,override.yaml",
        **extra,
    }


def test_labels_give_files_and_project() -> None:
    target = target_from_labels(_labels(), container_names=("immich-server-1",))

    assert target.project == "immich"
    assert target.service == "server"
    assert target.working_dir == Path("/srv/immich")
    assert target.files == (Path("/srv/immich/compose.yaml"), Path("/srv/immich/override.yaml"))
    assert target.env_files == ()
    assert target.container_names == ("immich-server-1",)


def test_labels_environment_file_split() -> None:
    labels = _labels(**{"com.docker.compose.project.environment_file": "/etc/immich.env,local.env"})

    target = target_from_labels(labels)

    assert target.env_files == (Path("/etc/immich.env"), Path("/srv/immich/local.env"))


@pytest.mark.parametrize("label", ["com.docker.compose.project", WORKING_DIR, CONFIG_FILES])
def test_labels_missing_one_rejected(label: str) -> None:
    labels = _labels()
    del labels[label]

    with pytest.raises(DeploymentError) as raised:
        target_from_labels(labels, container_names=("web",))

    assert label in str(raised.value)
    assert "only recreate Compose services" in str(raised.value)


def test_labels_oneoff_container_rejected() -> None:
    with pytest.raises(DeploymentError, match="one-off"):
        target_from_labels(_labels(**{"com.docker.compose.oneoff": "True"}))


def test_target_from_compose_container(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    image = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)
    stack = compose_stack(f"services:\n  app:\n    image: {image.reference}\n")
    container = stack.container("app")

    target = target_from_container(container)

    assert target.project == stack.project
    assert target.service == "app"
    assert target.files == (stack.compose_file,)
    assert target.working_dir == stack.directory
    assert target.container_ids == (container.id,)
    assert target.container_names == (container.name,)


def test_target_from_plain_container_rejected(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)
    container = lab.client().containers.run(image.reference, detach=True)
    try:
        with pytest.raises(DeploymentError) as raised:
            target_from_container(container)
    finally:
        container.remove(force=True)

    assert "not started by Docker Compose" in str(raised.value)
    assert container.name in str(raised.value)


def test_dependants_follow_network_mode(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    image = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)

    compose = (
        "services:\n"
        "  app:\n"
        f"    image: {image.reference}\n"
        "  vpn_client:\n"
        f"    image: {image.reference}\n"
        '    network_mode: "service:app"\n'
        "  exporter:\n"
        f"    image: {image.reference}\n"
        '    network_mode: "service:vpn_client"\n'
        "  tracer:\n"
        f"    image: {image.reference}\n"
        '    pid: "service:app"\n'
        "  other:\n"
        f"    image: {image.reference}\n"
    )
    stack = compose_stack(compose)
    # Compose v1 checks that a container named in network_mode exists when it loads the
    # file, so this service is added once app runs.
    app_name = stack.container("app").name
    compose += (
        f'  by_name:\n    image: {image.reference}\n    network_mode: "container:{app_name}"\n'
    )
    stack.compose_file.write_text(compose, encoding="utf-8")
    stack.up()

    found = dependants(lab.client(), stack.target("app"))

    assert sorted(found) == ["by_name", "exporter", "tracer", "vpn_client"]
    assert found.index("vpn_client") < found.index("exporter")
    assert dependants(lab.client(), stack.target("other")) == []


def test_architecture_names_match() -> None:
    assert normalize_architecture("x86_64") == "amd64"
    assert normalize_architecture("amd64") == "amd64"
    assert normalize_architecture("aarch64") == "arm64"
    assert normalize_architecture("ARM64") == "arm64"
    assert normalize_architecture("s390x") == "s390x"


def test_platform_of_lab_image_accepted(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)

    check_platform(lab.client(), image.image_id)


def test_platform_of_other_architecture_rejected(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)
    foreign = load_with_architecture(
        lab.client(), image.image_id, "s390x", f"{image.repository}:s390x"
    )

    with pytest.raises(DeploymentError) as raised:
        check_platform(lab.client(), foreign)

    assert "linux/s390x" in str(raised.value)
    assert foreign in str(raised.value)


def test_platform_of_missing_image_rejected(lab: Lab) -> None:
    with pytest.raises(DeploymentError, match="not in the Docker engine's image store"):
        check_platform(lab.client(), "sha256:" + "0" * 64)
