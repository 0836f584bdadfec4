"""``hullcheck update`` on the lab: real registry checks, pulls, scans, Compose and rollback."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import copy_cache, invoke, report

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import PublishedImage, publish
from hullcheck.lab.services import Lab
from hullcheck.lock import run_lock


@dataclass
class Stack:
    lab: Lab
    directory: Path
    compose: Path
    project: str

    def container_image(self, service: str) -> str:
        [container] = self.lab.client().containers.list(
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                ]
            }
        )
        return str(container.attrs["Image"])

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


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def make_stack(lab: Lab, tmp_path: Path) -> Iterator[Any]:
    """Write a one-project stack of ``{service: image}``, start it, and take it down afterwards."""
    started: list[Stack] = []

    def make(services: dict[str, str], labels: dict[str, str] | None = None) -> Stack:
        project = f"upd{secrets.token_hex(3)}"
        directory = tmp_path / project
        directory.mkdir()
        lines = ["services:"]
        for name, image in services.items():
            lines += [f"  {name}:", f"    image: {image}"]
            if labels:
                lines.append("    labels:")
                lines += [f'      {key}: "{value}"' for key, value in labels.items()]
        compose = directory / "compose.yaml"
        compose.write_text("\n".join(lines) + "\n")
        run_compose([compose], ["up", "-d"], project=project, env=lab.env())
        stack = Stack(lab, directory, compose, project)
        started.append(stack)
        return stack

    yield make
    for stack in started:
        run_compose(
            [stack.compose], ["down", "--timeout", "1"], project=stack.project, env=lab.env()
        )


def update(stack: Stack, cache: Path, data_dir: Path, *extra: str) -> Any:
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
        data_dir / "history.db",
        "--stable-seconds",
        "1",
        "--health-timeout",
        "30",
        *extra,
    )


def service_result(document: dict[str, Any], service: str) -> dict[str, Any]:
    [entry] = [s for s in document["services"] if s["service"] == service]
    return entry  # type: ignore[no-any-return]


def test_new_digest_updated(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    new = republish(lab, old, "debian-base", package_versions={"libc6": "2.36-9+deb12u3"})

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    app = service_result(report(result), "app")
    assert app["action"] == "updated", app["reason"]
    assert app["remote_digest"] == new.digest
    assert stack.container_image("app") == new.image_id
    assert app["delta"]["fixed"] == ["CVE-2023-4911"]
    assert app["delta"]["new"] == []
    assert "CVE-2023-45853" in app["delta"]["open"]


def test_second_run_up_to_date(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = update(stack, cache, data_dir)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert service_result(report(result), "app")["action"] == "up_to_date"


def test_failing_health_rolled_back(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    republish(lab, old, "alpine-base", healthy=False, revision="broken")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.UPDATE_FAILED
    app = service_result(report(result), "app")
    assert app["action"] == "rolled_back", app["reason"]
    assert stack.container_image("app") == old.image_id
    state = lab.client().containers.get(stack.container_id("app")).attrs["State"]
    assert state["Running"]


def test_strict_holds_new_critical(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    # The same tag now carries a Debian image with the zlib CRITICAL.
    republish(lab, old, "debian-base")

    result = update(
        stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir, "--policy", "strict"
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    app = service_result(report(result), "app")
    assert app["action"] == "held"
    assert "CVE-2023-45853" in app["reason"]
    assert "CVE-2023-45853" in app["delta"]["new"]
    assert stack.container_image("app") == old.image_id


def test_strict_allows_fix_only_update(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    new = republish(lab, old, "debian-base", package_versions={"libc6": "2.36-9+deb12u3"})

    result = update(
        stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir, "--policy", "strict"
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert service_result(report(result), "app")["action"] == "updated"
    assert stack.container_image("app") == new.image_id


def test_dry_run_changes_nothing(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    new = republish(lab, old, "alpine-base", revision="2")
    before = len(lab.registry_requests())

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir, "--dry-run")

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    document = report(result)
    assert document["dry_run"] is True
    app = service_result(document, "app")
    assert app["action"] == "skipped"
    assert "dry run" in app["reason"]
    assert app["remote_digest"] == new.digest
    assert stack.container_image("app") == old.image_id
    requests = lab.registry_requests()[before:]
    manifest_requests = [r for r in requests if "/manifests/" in r.path]
    assert manifest_requests
    assert all(r.method == "HEAD" for r in manifest_requests)


def test_pinned_reports_new_digest(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"db": old.pinned_reference})
    new = republish(lab, old, "alpine-base", revision="2")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    db = service_result(report(result), "db")
    assert db["action"] == "pinned"
    assert new.digest in db["reason"]
    assert stack.container_image("db") == old.image_id


def test_disabled_label_skipped(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference}, labels={"hullcheck.enable": "false"})
    republish(lab, old, "alpine-base", revision="2")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    app = service_result(report(result), "app")
    assert app["action"] == "skipped"
    assert "hullcheck.enable=false" in app["reason"]
    assert stack.container_image("app") == old.image_id


def test_policy_label_overrides_flag(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference}, labels={"hullcheck.policy": "notify-only"})
    republish(lab, old, "alpine-base", revision="2")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    app = service_result(report(result), "app")
    assert app["action"] == "held"
    assert app["policy"] == "notify-only"
    assert stack.container_image("app") == old.image_id


def test_database_major_jump_held(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    repository = f"{lab_repository}/postgres"
    old = publish(lab, "alpine-base", repository, "latest", extra_changes=["ENV PG_MAJOR=16"])
    stack = make_stack({"db": old.reference})
    republish(lab, old, "alpine-base", extra_changes=["ENV PG_MAJOR=17"], revision="17")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    db = service_result(report(result), "db")
    assert db["action"] == "held"
    assert "major version 16 to 17" in db["reason"]
    assert stack.container_image("db") == old.image_id


def test_failed_pull_keeps_container(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})
    old_container = stack.container_id("app")
    new = republish(lab, old, "alpine-base", revision="unpullable")
    _delete_layers(lab, new)

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.UPDATE_FAILED
    app = service_result(report(result), "app")
    assert app["action"] == "failed"
    assert "kept the running version" in app["reason"]
    assert stack.container_id("app") == old_container
    assert stack.container_image("app") == old.image_id


def test_second_run_refused_while_locked(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1")
    stack = make_stack({"app": old.reference})

    with run_lock(data_dir / "run.lock", "update"):
        result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.USAGE
    assert "another hullcheck run has locked" in result.stderr
    assert "PID" in result.stderr


def republish(lab: Lab, old: PublishedImage, kind: str, **build: Any) -> PublishedImage:
    """Push new content under the old tag, as upstream would, leaving the engine as it was.

    ``publish`` builds on the lab engine, so the new image is removed again and the tag put
    back on the running image: only the registry has the new digest, as in real life.
    """
    new = publish(lab, kind, old.repository, old.tag, **build)
    client = lab.client()
    client.images.remove(new.image_id, force=True)
    client.images.get(old.image_id).tag(old.repository, old.tag)
    return new


def _delete_layers(lab: Lab, image: PublishedImage) -> None:
    """Delete the image's layer blobs from the registry, so the manifest resolves but a pull fails."""
    repository = image.repository.removeprefix(f"{lab.registry}/")
    request = urllib.request.Request(
        f"http://{lab.registry}/v2/{repository}/manifests/{image.digest}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request) as response:
        manifest = json.load(response)
    for layer in manifest["layers"]:
        delete = urllib.request.Request(
            f"http://{lab.registry}/v2/{repository}/blobs/{layer['digest']}", method="DELETE"
        )
        opener.open(delete).close()


def test_newer_tags_reported_not_applied(
    lab: Lab,
    make_stack: Any,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    old = publish(lab, "alpine-base", lab_repository, "1.0.0")
    stack = make_stack({"app": old.reference})
    publish(lab, "alpine-base", lab_repository, "1.0.1", revision="1.0.1")
    publish(lab, "alpine-base", lab_repository, "1.1.0", revision="1.1.0")
    publish(lab, "alpine-base", lab_repository, "2.0.0-beta", revision="beta")

    result = update(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir)

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    app = service_result(report(result), "app")
    assert app["action"] == "up_to_date"
    assert app["newer_tags"] == ["1.1.0", "1.0.1"]
    assert stack.container_image("app") == old.image_id
