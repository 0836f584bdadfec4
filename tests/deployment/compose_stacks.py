"""Compose projects and images for the deployment tests, on the lab engine."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.models.containers import Container

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.deployment.target import ComposeTarget, target_from_container
from hullcheck.lab.services import Lab

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass
class ComposeStack:
    """One Compose project with a unique name, started from ``compose.yaml`` in ``directory``."""

    lab: Lab
    project: str
    directory: Path
    profiles: tuple[str, ...] = ()

    @property
    def compose_file(self) -> Path:
        return self.directory / "compose.yaml"

    def up(self) -> None:
        run_compose(
            [self.compose_file],
            ["up", "-d"],
            project=self.project,
            profiles=self.profiles,
            env=self.lab.env(),
        )

    def down(self) -> None:
        run_compose(
            [self.compose_file],
            ["down", "--timeout", "1"],
            project=self.project,
            profiles=self.profiles,
            env=self.lab.env(),
        )

    def containers(self, service: str) -> list[Container]:
        """Return the service's containers, running or not."""
        return list(
            self.lab.client().containers.list(
                all=True,
                filters={
                    "label": [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]
                },
            )
        )

    def container(self, service: str) -> Container:
        """Return the one container of ``service``; fails the test when there are more or none."""
        containers = self.containers(service)
        assert len(containers) == 1, [c.name for c in containers]
        return containers[0]

    def target(self, service: str) -> ComposeTarget:
        """Return the target as built from the service's first container."""
        return target_from_container(self.containers(service)[0])


StackFactory = Callable[..., ComposeStack]


def load_with_architecture(
    client: docker.DockerClient, image_id: str, architecture: str, name: str
) -> str:
    """Load a copy of an image whose config names another architecture; return its ID.

    ``docker load`` takes the image ID from the config file's content, so changing the
    ``architecture`` field gives a new image with the same layers.
    """
    with tarfile.open(fileobj=io.BytesIO(b"".join(client.images.get(image_id).save()))) as saved:
        return _load_changed(client, saved, architecture, name)


def _load_changed(
    client: docker.DockerClient, saved: tarfile.TarFile, architecture: str, name: str
) -> str:
    manifest = json.load(_member(saved, "manifest.json"))
    config_name = manifest[0]["Config"]
    config = json.load(_member(saved, config_name))
    config["architecture"] = architecture
    config_bytes = json.dumps(config).encode()
    manifest[0]["Config"] = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest[0]["RepoTags"] = [name]

    output = io.BytesIO()
    with tarfile.open(fileobj=output, mode="w") as archive:
        for member in saved.getmembers():
            if member.name in ("manifest.json", "repositories", config_name):
                continue
            archive.addfile(member, saved.extractfile(member) if member.isfile() else None)
        for member_name, content in (
            (manifest[0]["Config"], config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(member_name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    loaded = client.images.load(output.getvalue())
    return str(loaded[0].id)


def _member(archive: tarfile.TarFile, name: str) -> io.BufferedReader:
    member = archive.extractfile(name)
    assert member is not None, name
    return member  # type: ignore[return-value]
