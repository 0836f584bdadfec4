"""The lab's private dockerd and registry, started for real."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import docker.errors
import pytest

from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab, LabError, RegistryRequest

pytestmark = pytest.mark.lab


def _is_running(pid: int) -> bool:
    """True for a live process; a zombie counts as gone, because it runs nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _manifest_requests(
    requests: list[RegistryRequest], repository: str
) -> list[tuple[str, str, int]]:
    prefix = f"/v2/{repository}/manifests/"
    return [
        (request.method, request.path.removeprefix(prefix), request.status)
        for request in requests
        if request.path.startswith(prefix)
    ]


def test_lab_runs_container_from_fixture_image(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1")

    output = lab.client().containers.run(
        image.reference, ["sh", "-c", "echo ready; cat /etc/debian_version"], remove=True
    )

    assert output.decode().split() == ["ready", "12.7"]


def test_lab_environment_points_at_its_engine(lab: Lab) -> None:
    environment = lab.env({"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_CONTEXT": "x"})

    assert environment["DOCKER_HOST"] == lab.docker_host
    assert environment["DOCKER_CONFIG"] == str(lab.docker_config_dir)
    assert "DOCKER_CONTEXT" not in environment
    assert lab.docker_host.startswith("unix://")
    assert lab.registry.startswith("127.0.0.1:")


def test_compose_reaches_lab_through_env(lab: Lab, lab_repository: str, tmp_path: Path) -> None:
    image = publish(lab, "debian-base", lab_repository, "1")
    project = tmp_path / "envcheck"
    project.mkdir()
    (project / "docker-compose.yml").write_text(
        f"services:\n  app:\n    image: {image.reference}\n", encoding="utf-8"
    )

    def compose(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", *arguments],
            cwd=project,
            env=lab.env(),
            capture_output=True,
            text=True,
            check=False,
        )

    up = compose("up", "-d")
    try:
        containers = lab.client().containers.list(
            filters={"label": "com.docker.compose.project=envcheck"}
        )
        assert up.returncode == 0, up.stderr
        assert [container.name for container in containers] == ["envcheck_app_1"]
    finally:
        down = compose("down")
    assert down.returncode == 0, down.stderr


def test_pull_by_tag_sends_head_then_get(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "alpine-base", lab_repository, "3.21")
    client = lab.client()
    client.images.remove(image.reference)
    before = len(lab.registry_requests())

    pulled = client.images.pull(image.repository, tag="3.21")

    manifests = _manifest_requests(lab.registry_requests()[before:], lab_repository)
    assert pulled.id == image.image_id
    assert manifests == [("HEAD", "3.21", 200), ("GET", image.digest, 200)]


def test_repeated_pull_sends_only_head(lab: Lab, lab_repository: str) -> None:
    image = publish(lab, "debian-base", lab_repository, "1")
    # Right after a push the engine has not stored the manifest, so the first pull GETs it.
    lab.client().images.pull(image.repository, tag="1")
    before = len(lab.registry_requests())

    lab.client().images.pull(image.repository, tag="1")

    manifests = _manifest_requests(lab.registry_requests()[before:], lab_repository)
    assert manifests == [("HEAD", "1", 200)]


def test_registry_requests_record_status(lab: Lab, lab_repository: str) -> None:
    client = lab.client()

    with pytest.raises(docker.errors.NotFound, match="manifest unknown"):
        client.images.pull(f"{lab.registry}/{lab_repository}", tag="missing")

    manifests = _manifest_requests(lab.registry_requests(), lab_repository)
    assert ("GET", "missing", 404) in manifests or ("HEAD", "missing", 404) in manifests


def test_stop_ends_every_lab_process(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "lab").start()
    try:
        image = publish(lab, "debian-base", "stop/check", "1")
        lab.client().containers.run(image.reference, detach=True)
        pids = lab.process_ids()
        exec_root = Path(lab.docker_host.removeprefix("unix://")).parent
    finally:
        lab.stop(remove_root=True)

    # registry, dockerd, containerd and the running container's shim
    assert len(pids) >= 4
    assert [pid for pid in pids if _is_running(pid)] == []
    assert not (tmp_path / "lab").exists()
    assert not exec_root.exists()


def test_stop_after_engine_crash_cleans_up(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "lab").start()
    try:
        image = publish(lab, "debian-base", "crash/check", "1")
        lab.client().containers.run(image.reference, detach=True)
        pids = lab.process_ids()
        # A killed dockerd leaves containerd, the shim and its data-root mount behind.
        os.kill(lab.pids["dockerd"], signal.SIGKILL)
    finally:
        lab.stop(remove_root=True)

    mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    mount_points = [line.split(" ")[4] for line in mountinfo]
    assert [pid for pid in pids if _is_running(pid)] == []
    assert [point for point in mount_points if point.startswith(str(tmp_path))] == []
    assert not (tmp_path / "lab").exists()


def test_restart_on_same_root_keeps_data(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    with Lab(root) as first:
        image = publish(first, "debian-base", "restart/check", "1")
        first_registry = first.registry

    second = Lab(root).start()
    try:
        kept_image = second.client().images.get(image.reference)
        registry_data = second.client().images.get_registry_data(image.reference)
        assert second.registry == first_registry
        assert kept_image.id == image.image_id
        assert registry_data.id == image.digest
    finally:
        second.stop(remove_root=True)


def test_deep_root_gets_short_exec_root(tmp_path: Path) -> None:
    # Socket paths are limited to 107 bytes, so the runtime directory moves to /tmp.
    root = tmp_path / ("deep-" * 16) / "lab"
    lab = Lab(root).start()
    try:
        socket_path = lab.docker_host.removeprefix("unix://")
        pong = lab.client().ping()
    finally:
        lab.stop()

    assert pong
    assert socket_path.startswith("/tmp/hcl-")
    assert len(socket_path) < len(str(root))
    assert not Path(socket_path).parent.exists()
    assert (root / "engine" / "data").is_dir()


def test_start_failure_quotes_dockerd_log(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    # A file where the vfs storage directory belongs makes dockerd exit at start-up.
    (root / "engine" / "data").mkdir(parents=True)
    (root / "engine" / "data" / "vfs").write_text("not a directory\n", encoding="utf-8")
    lab = Lab(root)

    with pytest.raises(LabError, match=r"dockerd \(PID \d+\) exited during start-up") as caught:
        lab.start()

    assert "end of" in str(caught.value)
    assert str(root / "logs" / "dockerd.log") in str(caught.value)
    assert lab.pids == {}


def test_lab_needs_started_state() -> None:
    lab = Lab()

    with pytest.raises(LabError, match="not started"):
        _ = lab.docker_host


def test_second_lab_on_running_root_is_rejected(lab: Lab) -> None:
    with pytest.raises(LabError, match=f"dockerd PID {lab.pids['dockerd']}"):
        Lab(lab.root).start()

    mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    assert lab.client().ping()
    assert os.path.exists(lab.docker_host.removeprefix("unix://"))
    # The rejected lab left the running engine's data-root mount alone.
    assert f" {lab.root / 'engine' / 'data'} " in mountinfo
