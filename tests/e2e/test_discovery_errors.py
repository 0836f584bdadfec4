"""Bad input and unusual services: clear errors, right exit codes, no silent gaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import copy_cache, invoke, lab_scan_arguments, report

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def test_services_not_mapping_usage_error(tmp_path: Path, data_dir: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services: [1, 2]\n")

    result = invoke("scan", compose, "--docker-host", f"unix://{tmp_path}/none.sock")

    assert result.exit_code == ExitCode.USAGE
    assert "'services' must be a mapping, not a list" in result.stderr
    assert str(compose) in result.stderr


def test_invalid_docker_host_usage_error(tmp_path: Path, data_dir: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: example/app:1\n")

    result = invoke("scan", compose, "--docker-host", "/var/run/not-a-url.sock")

    assert result.exit_code == ExitCode.USAGE
    assert "invalid Docker host '/var/run/not-a-url.sock'" in result.stderr
    assert "unix://" in result.stderr


def test_running_without_engine_usage_error(tmp_path: Path, data_dir: Path) -> None:
    result = invoke("images", "--running", "--docker-host", f"unix://{tmp_path}/none.sock")

    assert result.exit_code == ExitCode.USAGE
    assert "the socket does not exist" in result.stderr
    assert "Connection aborted" not in result.stderr


def test_engine_error_printed_once(tmp_path: Path, data_dir: Path, lab_trivy_cache: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: example/app:1\n")

    result = invoke(
        "scan",
        compose,
        "--docker-host",
        f"unix://{tmp_path}/none.sock",
        "--cache-dir",
        copy_cache(lab_trivy_cache, tmp_path / "cache"),
        "--db-update",
        "skip",
    )

    assert result.exit_code == ExitCode.SCAN_FAILED
    assert result.stderr.count("cannot reach the Docker engine") == 1


def test_implicit_tag_is_latest_in_json(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  web:\n    image: nginx\n  reg:\n    image: localhost:5000/team/app\n"
    )

    result = invoke("images", compose, "--format", "json")

    services = {s["service"]: s for s in json.loads(result.stdout)["services"]}
    assert services["web"]["tag"] == "latest"
    assert services["web"]["image"] == "docker.io/library/nginx:latest"
    assert services["web"]["image_text"] == "nginx"
    assert services["reg"]["tag"] == "latest"
    assert services["reg"]["registry"] == "localhost:5000"


def test_images_markdown_rejected(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: nginx\n")

    result = invoke("images", compose, "--format", "markdown")

    assert result.exit_code == ExitCode.USAGE


def test_unresolved_image_failed_row(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    good = publish(lab, "alpine-base", lab_repository, "1")
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        f"  db:\n    image: {good.reference}\n"
        "  strict:\n    image: ${MUST_SET:?image must be set}\n"
    )
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", compose, "--format", "json", *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SCAN_FAILED
    images = report(result)["images"]
    [strict] = [image for image in images if image["services"] == [f"{tmp_path.name}/strict"]]
    assert strict["status"] == "failed"
    assert strict["failure"] == "invalid_reference"
    assert "MUST_SET" in strict["reason"]
    assert strict["severity_counts"] is None


def test_compose_v1_built_image_found(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    project = tmp_path / "home"
    (project / "proxy").mkdir(parents=True)
    (project / "compose.yaml").write_text("services:\n  proxy:\n    build: ./proxy\n")
    built = publish(lab, "alpine-base", lab_repository, "1")
    # Compose v1 names the image it builds <project>_<service>.
    lab.client().images.get(built.image_id).tag("home_proxy", "latest")
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", project, "--format", "json", *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    [image] = report(result)["images"]
    assert image["status"] == "scanned"
    assert image["image_id"] == built.image_id
