"""Compose discovery on inputs modelled on bugs that other update checkers had."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hullcheck.discovery.compose import load_project, load_project_details
from hullcheck.discovery.models import ProblemKind, ServiceImage


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def by_service(services: list[ServiceImage]) -> dict[str, ServiceImage]:
    return {service.service: service for service in services}


def images(services: list[ServiceImage]) -> dict[str, str | None]:
    return {service.service: service.image_text for service in services}


DEFAULTS_COMPOSE = """\
    services:
      app:
        image: ghcr.io/example/app:${APP_TAG:-2}
      worker:
        image: ghcr.io/example/app:${APP_TAG-2}
      ml:
        image: ghcr.io/example/ml:${APP_TAG:-release}-cuda
      nested:
        image: ${REGISTRY:-ghcr.io}/example/${NAME:-tool}:${TAG:-${APP_TAG:-1}}
    """


def test_defaults_without_env_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", DEFAULTS_COMPOSE)

    project, services = load_project([tmp_path / "compose.yaml"], environ={})

    assert images(services) == {
        "app": "ghcr.io/example/app:2",
        "worker": "ghcr.io/example/app:2",
        "ml": "ghcr.io/example/ml:release-cuda",
        "nested": "ghcr.io/example/tool:1",
    }
    assert project.problems == ()
    assert all(service.image is not None for service in services)


def test_defaults_with_env_file_value(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", DEFAULTS_COMPOSE)
    write(tmp_path, ".env", "APP_TAG=2.3.1\n")

    project, services = load_project([tmp_path / "compose.yaml"], environ={})

    found = images(services)
    assert found["app"] == "ghcr.io/example/app:2.3.1"
    assert found["worker"] == "ghcr.io/example/app:2.3.1"
    assert found["ml"] == "ghcr.io/example/ml:2.3.1-cuda"
    assert found["nested"] == "ghcr.io/example/tool:2.3.1"
    assert project.env_file == tmp_path / ".env"


def test_empty_env_value_breaks_hard_default(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", DEFAULTS_COMPOSE)
    write(tmp_path, ".env", "APP_TAG=\n")

    project, services = load_project([tmp_path / "compose.yaml"], environ={})

    found = by_service(services)
    assert found["app"].image_text == "ghcr.io/example/app:2"
    assert found["app"].image is not None
    worker = found["worker"]
    assert worker.image_text == "ghcr.io/example/app:"
    assert worker.image is None
    assert [problem.kind for problem in worker.problems] == [ProblemKind.INVALID_REFERENCE]
    message = worker.problems[0].message
    assert "worker" in message
    assert "'ghcr.io/example/app:'" in message
    assert str(tmp_path / "compose.yaml") in message
    assert worker.problems[0].file == tmp_path / "compose.yaml"
    assert found["ml"].image is not None
    assert found["nested"].image is not None
    assert not project.deployable


def test_shell_wins_over_env_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", DEFAULTS_COMPOSE)
    write(tmp_path, ".env", "APP_TAG=2.3.1\n")

    _, services = load_project([tmp_path / "compose.yaml"], environ={"APP_TAG": "9"})

    found = images(services)
    assert found["app"] == "ghcr.io/example/app:9"
    assert found["worker"] == "ghcr.io/example/app:9"


def test_dollar_escapes_in_labels_and_healthcheck(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          web:
            image: example/web:1.2.3
            labels:
              - "updater.tag.include=^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$$"
            healthcheck:
              test: ["CMD-SHELL", "pg_isready -d $${POSTGRES_DB} -U $${POSTGRES_USER}"]
            environment:
              PRICE: "cost is $$5"
        """,
    )

    loaded = load_project_details([path], environ={})

    web = loaded.services[0]
    assert web.labels == {"updater.tag.include": "^\\d+\\.\\d+\\.\\d+$"}
    config = loaded.configs["web"]
    assert config["healthcheck"]["test"][1] == "pg_isready -d ${POSTGRES_DB} -U ${POSTGRES_USER}"
    assert config["environment"]["PRICE"] == "cost is $5"
    assert loaded.project.problems == ()


def test_lone_dollar_rejected_like_compose_v1(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          web:
            image: example/web:1.2.3
            labels:
              - "updater.tag.include=^\\\\d+$"
        """,
    )

    project, services = load_project([path], environ={})

    problems = services[0].problems
    assert [problem.kind for problem in problems] == [ProblemKind.INVALID_INTERPOLATION]
    assert "Invalid interpolation format" in problems[0].message
    assert "updater.tag.include=^\\d+$" in problems[0].message
    assert str(path) in problems[0].message
    assert services[0].labels == {}
    assert services[0].image is not None
    assert not project.deployable


REQUIRED_COMPOSE = """\
    services:
      server:
        image: ${APP_IMAGE:-ghcr.io/example/server}:${APP_TAG:-2025.2.4}
        environment:
          SECRET_KEY: ${SECRET_KEY:?secret key required}
      db:
        image: docker.io/library/postgres:16-alpine
        environment:
          POSTGRES_PASSWORD: ${PG_PASS:?database password required}
      strict:
        image: ${MUST_SET:?image must be set}
    """


def test_required_variables_block_deploy(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", REQUIRED_COMPOSE)

    project, services = load_project([path], environ={})

    found = by_service(services)
    assert found["server"].image_text == "ghcr.io/example/server:2025.2.4"
    assert found["server"].image is not None
    assert found["db"].image_text == "docker.io/library/postgres:16-alpine"
    assert found["db"].image is not None
    assert found["strict"].image is None
    assert found["strict"].image_text is None
    assert not project.deployable
    missing = [p for p in project.problems if p.kind is ProblemKind.MISSING_VARIABLE]
    assert [p.variable for p in missing] == ["SECRET_KEY", "PG_PASS", "MUST_SET"]
    assert all(p.blocks_deploy for p in missing)
    assert all(p.file == path for p in missing)
    assert all(str(path) in p.message for p in missing)
    assert missing[2].message.startswith("MUST_SET: image must be set")
    assert "secret key required" in missing[0].message
    assert [p.variable for p in found["strict"].problems] == ["MUST_SET"]
    assert not any("${" in (service.image_text or "") for service in services)


def test_required_variables_set_in_shell(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", REQUIRED_COMPOSE)
    environ = {"SECRET_KEY": "s", "PG_PASS": "p", "MUST_SET": "example/strict:1"}

    project, services = load_project([path], environ=environ)

    assert project.deployable
    assert by_service(services)["strict"].image_text == "example/strict:1"


def test_env_file_entry_never_interpolates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          test:
            image: hello-world:latest
            env_file:
              - .env
          app:
            image: example/app:${APP_TAG:-1}
            env_file: app.env
        """,
    )
    write(tmp_path, "app.env", "APP_TAG=5\n")

    project, services = load_project([path], environ={})

    assert images(services) == {"test": "hello-world:latest", "app": "example/app:1"}
    test = by_service(services)["test"]
    assert test.image is not None
    assert [problem.kind for problem in test.problems] == [ProblemKind.MISSING_FILE]
    assert str(tmp_path / ".env") in test.problems[0].message
    assert test.problems[0].blocks_deploy
    assert by_service(services)["app"].problems == ()
    assert not project.deployable
    assert project.env_file is None


def test_include_keeps_each_env_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = write(
        home,
        "compose.yaml",
        """\
        include:
          - path: frigate/compose.yaml
          - gitea/compose.yaml
        services:
          proxy:
            image: example/proxy:2.0
        """,
    )
    frigate = write(
        home,
        "frigate/compose.yaml",
        """\
        services:
          frigate:
            image: ghcr.io/example/frigate:${FRIGATE_TAG:-stable}
        """,
    )
    write(home, "frigate/.env", "FRIGATE_TAG=0.14\n")
    gitea = write(
        home,
        "gitea/compose.yaml",
        """\
        services:
          gitea:
            image: example/gitea:1.21
        """,
    )

    project, services = load_project([root], environ={})

    assert images(services) == {
        "proxy": "example/proxy:2.0",
        "frigate": "ghcr.io/example/frigate:0.14",
        "gitea": "example/gitea:1.21",
    }
    found = by_service(services)
    assert found["proxy"].defined_in == root
    assert found["frigate"].defined_in == frigate
    assert found["gitea"].defined_in == gitea
    assert project.problems == ()
    assert project.name == "home"


def test_build_only_and_local_images(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write(
        home,
        "compose.yaml",
        """\
        services:
          buzzer:
            image: buzzer
            build:
              context: .
          proxy:
            build: ./proxy
          web:
            image: nginx:alpine-slim
        """,
    )

    project, services = load_project([path], environ={})

    found = by_service(services)
    assert found["buzzer"].local_build
    assert found["buzzer"].local_image_name == "buzzer"
    assert found["proxy"].local_build
    assert found["proxy"].local_image_name == "home-proxy"
    assert found["proxy"].image is None
    assert found["proxy"].defined_in is None
    assert not found["web"].local_build
    assert found["web"].image is not None
    assert found["web"].image.normalized == "docker.io/library/nginx:alpine-slim"
    registry_checked = [s.service for s in services if s.image and not s.local_build]
    assert registry_checked == ["web"]
    assert project.problems == ()


PROFILES_COMPOSE = """\
    services:
      app:
        image: example/app:1.0
      debug:
        image: example/debug-sidecar:latest
        profiles: ["debug"]
    """


def test_profiled_service_inactive_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", PROFILES_COMPOSE)

    project, services = load_project([path], environ={})

    found = by_service(services)
    assert found["app"].active
    assert found["app"].profiles == ()
    assert not found["debug"].active
    assert found["debug"].profiles == ("debug",)
    assert found["debug"].image is not None
    assert project.profiles == ()


@pytest.mark.parametrize(
    ("profiles", "environ", "env_text"),
    [
        (["debug"], {}, ""),
        ([], {"COMPOSE_PROFILES": "other, debug"}, ""),
        ([], {}, "COMPOSE_PROFILES=debug\n"),
        (["*"], {}, ""),
    ],
)
def test_profile_activation(
    tmp_path: Path, profiles: list[str], environ: dict[str, str], env_text: str
) -> None:
    path = write(tmp_path, "compose.yaml", PROFILES_COMPOSE)
    if env_text:
        write(tmp_path, ".env", env_text)

    project, services = load_project([path], profiles=profiles, environ=environ)

    assert by_service(services)["debug"].active
    assert by_service(services)["app"].active
    assert "debug" in project.profiles or "*" in project.profiles


def test_explicit_profiles_replace_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", PROFILES_COMPOSE)

    project, services = load_project(
        [path], profiles=["other"], environ={"COMPOSE_PROFILES": "debug"}
    )

    assert not by_service(services)["debug"].active
    assert project.profiles == ("other",)
