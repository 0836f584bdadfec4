"""Helpers for advise tests: run the CLI on the lab, and push images the engine cannot pull."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests
from typer.testing import CliRunner, Result

from hullcheck.cli.main import get_app
from hullcheck.lab.images import PublishedImage
from hullcheck.lab.services import Lab

MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
FIXED_LIBC6 = {"libc6": "2.36-9+deb12u3"}
"""The libc6 release that fixes CVE-2023-4911 (glibc ld.so, HIGH)."""
FIXED_OPENSSL = {"libssl3": "3.0.13-1~deb12u1"}
"""The libssl3 release that fixes CVE-2024-0727 (openssl PKCS12, LOW in Debian)."""


@dataclass(frozen=True)
class AppRepository:
    """The published tags of one app, by tag."""

    repository: str
    """``127.0.0.1:PORT/tests/app-...``."""
    images: dict[str, PublishedImage]

    @property
    def path(self) -> str:
        """The repository path without the registry host."""
        return self.repository.partition("/")[2]

    def image(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    def digest(self, tag: str) -> str:
        return self.images[tag].digest


FOREIGN_PLATFORM = {"architecture": "s390x", "os": "linux"}
"""A platform the lab engine does not run on, so a pull of an index with only it fails."""


def invoke(*args: str | Path) -> Result:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    return runner.invoke(get_app(), [str(arg) for arg in args], catch_exceptions=False)


def lab_arguments(lab: Lab, cache: Path) -> list[str]:
    """Options that aim ``advise`` at the lab engine and the fixture Trivy DB, offline."""
    return ["--docker-host", lab.docker_host, "--cache-dir", str(cache), "--db-update", "skip"]


def document(result: Result) -> dict[str, Any]:
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_blob(lab: Lab, repository: str, data: bytes) -> str:
    digest = _digest(data)
    started = requests.post(f"{lab.registry_url}/v2/{repository}/blobs/uploads/", timeout=10)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = lab.registry_url + location
    done = requests.put(location, params={"digest": digest}, data=data, timeout=10)
    done.raise_for_status()
    return digest


def _push_manifest(lab: Lab, repository: str, reference: str, body: bytes, media_type: str) -> str:
    response = requests.put(
        f"{lab.registry_url}/v2/{repository}/manifests/{reference}",
        data=body,
        headers={"Content-Type": media_type},
        timeout=10,
    )
    response.raise_for_status()
    return _digest(body)


def push_foreign_platform_index(lab: Lab, repository: str, tag: str) -> str:
    """Push a manifest list whose only image is for s390x; return the list's digest.

    ``repository`` is the path without the registry host.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        content = b"foreign platform\n"
        info = tarfile.TarInfo("etc/foreign-release")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    layer = gzip.compress(buffer.getvalue(), mtime=0)
    config = json.dumps(
        {
            **FOREIGN_PLATFORM,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(gzip.decompress(layer))]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": CONFIG,
                "digest": _push_blob(lab, repository, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": LAYER,
                    "digest": _push_blob(lab, repository, layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    child = _push_manifest(lab, repository, _digest(manifest), manifest, MANIFEST)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": MANIFEST,
                    "digest": child,
                    "size": len(manifest),
                    "platform": FOREIGN_PLATFORM,
                }
            ],
        }
    ).encode()
    return _push_manifest(lab, repository, tag, index, MANIFEST_LIST)


def remove_local(lab: Lab, names: list[str]) -> None:
    """Remove images from the lab engine by name, ignoring names already gone."""
    for name in names:
        with contextlib.suppress(docker.errors.ImageNotFound):
            lab.client().images.remove(name)


def on_engine(lab: Lab, name: str) -> bool:
    try:
        lab.client().images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def bare_rootfs() -> bytes:
    """Return a root file system tar with one static file and no OS release or package data."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        content = b"#!/app\n"
        info = tarfile.TarInfo("app/server")
        info.size = len(content)
        info.mode = 0o755
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
