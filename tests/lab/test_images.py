"""Fixture images and the Immich-shaped stack: built, pushed, run and scanned for real."""

from __future__ import annotations

import email
import io
import json
import subprocess
import tarfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from hullcheck.analysis.models import Severity
from hullcheck.lab.images import (
    IMAGE_KINDS,
    REVISION_FILE,
    build_image,
    fixture_image,
    load_build_spec,
    publish,
    read_static_busybox,
)
from hullcheck.lab.services import Lab, LabError
from hullcheck.lab.stack import (
    IMMICH_SERVICES,
    IMMICH_VERSION,
    expected_counts_by_service,
    write_immich_stack,
)

TRIVY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "trivy"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


def _members(rootfs: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(rootfs)) as archive:
        return {member.name: member for member in archive.getmembers()}


def _read(rootfs: bytes, name: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(rootfs)) as archive:
        extracted = archive.extractfile(name)
        assert extracted is not None, f"{name} is not a regular file"
        return extracted.read().decode()


def _tag_digest(lab: Lab, repository: str, tag: str) -> str:
    request = urllib.request.Request(
        f"{lab.registry_url}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def _trivy_scan(lab: Lab, cache: Path, reference: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(TRIVY),
            "image",
            "--skip-db-update",
            "--skip-version-check",
            "--scanners",
            "vuln",
            "--image-src",
            "docker",
            "--cache-dir",
            str(cache),
            "--format",
            "json",
            reference,
        ],
        env=lab.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _wait_for_health(lab: Lab, container_id: str, expected: str) -> str:
    """Poll the container's health status until it is ``expected`` or 30 s have passed."""
    status = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        container = lab.client().containers.get(container_id)
        status = container.attrs["State"].get("Health", {}).get("Status", "")
        if status == expected:
            break
        time.sleep(0.2)
    return status


# -- root file systems, no engine needed -------------------------------------------------------


def test_debian_rootfs_has_dpkg_database() -> None:
    rootfs = build_image("debian-base")

    status = _read(rootfs, "var/lib/dpkg/status")
    entries = [email.message_from_string(entry) for entry in status.strip().split("\n\n")]
    by_name = {entry["Package"]: entry for entry in entries}
    assert _read(rootfs, "etc/debian_version") == "12.7\n"
    assert "VERSION_CODENAME=bookworm" in _read(rootfs, "etc/os-release")
    assert sorted(by_name) == ["base-files", "libc6", "libssl3", "zlib1g"]
    assert by_name["libssl3"]["Source"] == "openssl"
    assert by_name["libssl3"]["Version"] == "3.0.11-1~deb12u2"
    assert by_name["zlib1g"]["Version"] == "1:1.2.13.dfsg-1"
    assert "Source" not in by_name["base-files"]
    for entry in entries:
        assert entry["Status"] == "install ok installed"
        assert "debian" in entry["Maintainer"]
        assert {"Priority", "Section", "Installed-Size", "Architecture", "Description"} <= set(
            entry.keys()
        )


def test_alpine_rootfs_has_apk_database() -> None:
    rootfs = build_image("alpine-base")

    installed = _read(rootfs, "lib/apk/db/installed")
    entries = [
        dict(line.split(":", 1) for line in entry.splitlines())
        for entry in installed.strip().split("\n\n")
    ]
    assert _read(rootfs, "etc/alpine-release") == "3.21.0\n"
    assert [(e["P"], e["V"], e["o"]) for e in entries] == [
        ("libssl3", "3.1.4-r3", "openssl"),
        ("busybox", "1.37.0-r8", "busybox"),
    ]
    assert all("A" in entry and "L" in entry for entry in entries)


def test_language_rootfs_has_package_metadata() -> None:
    node = build_image("node-app")
    python = build_image("python-app")

    lodash = json.loads(_read(node, "app/node_modules/lodash/package.json"))
    pillow = _read(
        python, "usr/local/lib/python3.11/site-packages/Pillow-10.0.0.dist-info/METADATA"
    )
    assert (lodash["name"], lodash["version"]) == ("lodash", "4.17.20")
    assert "Name: Pillow\nVersion: 10.0.0\n" in pillow
    # Both are built on debian-base.
    assert "Package: libc6" in _read(node, "var/lib/dpkg/status")
    assert "Package: libc6" in _read(python, "var/lib/dpkg/status")


def test_rootfs_has_busybox_applets_and_marker() -> None:
    spec = load_build_spec()

    members = _members(build_image("alpine-base"))
    unhealthy = _members(build_image("alpine-base", healthy=False))

    assert members["bin/busybox"].mode == 0o755
    for applet in ("sh", "sleep", "true", "cat", "wget"):
        assert members[f"bin/{applet}"].issym()
        assert members[f"bin/{applet}"].linkname == "busybox"
    assert spec.health_marker.lstrip("/") in members
    assert spec.health_marker.lstrip("/") not in unhealthy


def test_rootfs_build_is_reproducible() -> None:
    first = build_image("node-app")
    again = build_image("node-app")
    revised = build_image("node-app", revision="2")

    assert first == again
    assert revised != first
    assert _read(revised, REVISION_FILE.lstrip("/")) == "2\n"


def test_package_versions_replace_installed_version() -> None:
    rootfs = build_image("debian-base", package_versions={"libssl3": "3.0.13-1~deb12u1"})

    status = _read(rootfs, "var/lib/dpkg/status")
    assert "Version: 3.0.13-1~deb12u1" in status
    assert "Version: 3.0.11-1~deb12u2" not in status


def test_package_versions_reject_unknown_package() -> None:
    with pytest.raises(LabError, match="not-installed"):
        build_image("debian-base", package_versions={"not-installed": "1"})


def test_unknown_image_kind_is_rejected() -> None:
    with pytest.raises(LabError, match="unknown fixture image kind 'centos'"):
        build_image("centos")


def test_extra_files_are_added() -> None:
    rootfs = build_image("debian-base", extra_files={"/srv/marker.txt": "hello\n"})

    assert _read(rootfs, "srv/marker.txt") == "hello\n"


def test_dynamic_busybox_is_rejected() -> None:
    # The Python interpreter is a dynamically linked ELF executable on Debian.
    dynamic = Path("/usr/bin/python3").resolve()

    with pytest.raises(LabError, match="dynamically linked"):
        read_static_busybox(dynamic)


# -- engine and registry -----------------------------------------------------------------------


def test_publish_returns_registry_digest(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1")

    assert image.repository == f"{lab.registry}/{lab_repository}"
    assert image.digest == _tag_digest(lab, lab_repository, "1")
    assert image.image_id == lab.client().images.get(image.reference).id
    assert image.pinned_reference == f"{image.repository}:1@{image.digest}"


def test_republish_moves_tag_to_new_digest(lab: Lab, lab_repository: str) -> None:
    first = publish(lab, "python-app", lab_repository, "1")
    second = publish(lab, "python-app", lab_repository, "1", revision="2")

    assert second.digest != first.digest
    assert _tag_digest(lab, lab_repository, "1") == second.digest


def test_image_healthcheck_follows_marker(lab: Lab, lab_repository: str) -> None:
    healthy = publish(lab, "debian-base", lab_repository, "healthy")
    failing = publish(lab, "debian-base", lab_repository, "failing", healthy=False)
    client = lab.client()

    good = client.containers.run(healthy.reference, detach=True)
    bad = client.containers.run(failing.reference, detach=True)
    try:
        assert _wait_for_health(lab, good.id, "healthy") == "healthy"
        assert _wait_for_health(lab, bad.id, "unhealthy") == "unhealthy"
    finally:
        good.remove(force=True)
        bad.remove(force=True)


def test_container_stops_on_sigterm(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "alpine-base", lab_repository, "1")
    container = lab.client().containers.run(image.reference, detach=True)

    container.stop(timeout=30)
    container.reload()

    # Exit status 0 comes from the image's SIGTERM trap; a SIGKILL would give 137.
    assert container.attrs["State"]["ExitCode"] == 0
    container.remove()


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_trivy_finds_expected_cves(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, kind: str
) -> None:
    image = publish(lab, kind, lab_repository, "1")
    fixture = fixture_image(kind)

    report = _trivy_scan(lab, lab_trivy_cache, image.reference)

    found = [
        vulnerability
        for result in report.get("Results", [])
        for vulnerability in result.get("Vulnerabilities") or []
    ]
    pairs = sorted((v["VulnerabilityID"], v["PkgName"], v["InstalledVersion"]) for v in found)
    expected_pairs = sorted(
        (f.vulnerability_id, f.package, f.installed_version) for f in fixture.expected_findings
    )
    assert pairs == expected_pairs
    totals = Counter(v["Severity"] for v in {v["VulnerabilityID"]: v for v in found}.values())
    fixable = Counter(
        v["Severity"]
        for v in {v["VulnerabilityID"]: v for v in found}.values()
        if v.get("FixedVersion")
    )
    assert dict(totals) == {s.value: c.total for s, c in fixture.expected_counts.items()}
    assert dict(fixable) == {
        s.value: c.fixable for s, c in fixture.expected_counts.items() if c.fixable
    }


def test_trivy_skips_fixed_older_advisory(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str
) -> None:
    image = publish(lab, "debian-base", lab_repository, "1")

    report = _trivy_scan(lab, lab_trivy_cache, image.reference)

    ids = {
        vulnerability["VulnerabilityID"]
        for result in report.get("Results", [])
        for vulnerability in result.get("Vulnerabilities") or []
    }
    assert "CVE-2024-0727" in ids
    # Fixed in 3.0.9-1, before the installed 3.0.11-1~deb12u2.
    assert "CVE-2023-2650" not in ids
    assert report["Metadata"]["OS"]["Family"] == "debian"


# -- the Immich-shaped stack -------------------------------------------------------------------


def test_immich_stack_files(lab: Lab, lab_repository: str, tmp_path: Path) -> None:
    compose_file = write_immich_stack(tmp_path / "immich", lab, namespace=lab_repository)

    document = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    services = document["services"]
    env_lines = (tmp_path / "immich" / ".env").read_text(encoding="utf-8").splitlines()
    prefix = f"{lab.registry}/{lab_repository}"
    assert sorted(services) == sorted(IMMICH_SERVICES)
    assert services["immich-server"]["image"] == (
        f"{prefix}/immich-app/immich-server:${{IMMICH_VERSION:-release}}"
    )
    assert services["redis"]["image"].startswith(f"{prefix}/valkey/valkey:8-bookworm@sha256:")
    assert services["database"]["image"].startswith(
        f"{prefix}/immich-app/postgres:14-vectorchord0.4.3@sha256:"
    )
    assert services["immich-server"]["healthcheck"] == {"disable": False}
    assert services["immich-server"]["env_file"] == [".env"]
    assert f"IMMICH_VERSION={IMMICH_VERSION}" in env_lines
    assert any(line.startswith("DB_PASSWORD=") for line in env_lines)
    # The pinned digests are the ones the registry serves for those tags.
    redis_digest = services["redis"]["image"].split("@", 1)[1]
    assert redis_digest == _tag_digest(lab, f"{lab_repository}/valkey/valkey", "8-bookworm")


def test_compose_brings_up_immich_stack(lab: Lab, lab_repository: str, tmp_path: Path) -> None:
    project = "immichup"
    compose_file = write_immich_stack(tmp_path / project, lab, namespace=lab_repository)

    def compose(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-f", str(compose_file), *arguments],
            cwd=compose_file.parent,
            env=lab.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    up = compose("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        containers = lab.client().containers.list(
            filters={"label": f"com.docker.compose.project={project}"}
        )
        by_service = {c.labels["com.docker.compose.service"]: c for c in containers}
        assert sorted(by_service) == sorted(IMMICH_SERVICES)
        server = by_service["immich-server"]
        assert server.name == f"{project}_server"
        assert server.status == "running"
        assert server.labels["com.docker.compose.project.working_dir"] == str(compose_file.parent)
        assert server.labels["com.docker.compose.project.config_files"] == str(compose_file)
        assert server.image.tags == [
            f"{lab.registry}/{lab_repository}/immich-app/immich-server:{IMMICH_VERSION}"
        ]
        assert _wait_for_health(lab, by_service["redis"].id, "healthy") == "healthy"
        assert _wait_for_health(lab, by_service["database"].id, "healthy") == "healthy"
    finally:
        down = compose("down", "--volumes")
    assert down.returncode == 0, down.stderr


def test_expected_counts_by_service_follow_images() -> None:
    counts = expected_counts_by_service()

    assert set(counts) == set(IMMICH_SERVICES)
    assert counts["database"] == fixture_image("alpine-base").expected_counts
    assert counts["immich-server"][Severity.HIGH].total == 3
    assert counts["immich-machine-learning"][Severity.MEDIUM].total == 1
