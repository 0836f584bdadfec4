"""Discovery results compared with ``docker-compose config`` (Compose v1, 1.29.2 here).

``config`` prints values re-escaped (``$`` as ``$$``), so its output is unescaped before
the comparison. Compose v1 supports neither nested defaults nor ``include``, so those
cases are not compared here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from hullcheck.discovery.compose import load_project, load_project_details
from hullcheck.discovery.models import ProblemKind

DOCKER_COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(
    DOCKER_COMPOSE is None, reason="docker-compose (Compose v1) is not installed"
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run_compose_v1(
    files: list[Path], environ: dict[str, str], home: Path
) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    arguments = [DOCKER_COMPOSE]
    for path in files:
        arguments += ["-f", str(path)]
    return subprocess.run(
        [*arguments, "config"],
        cwd=files[0].parent,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def compose_v1_services(
    files: list[Path], environ: dict[str, str], home: Path
) -> dict[str, dict[str, Any]]:
    result = run_compose_v1(files, environ, home)
    assert result.returncode == 0, result.stderr
    services: dict[str, dict[str, Any]] = unescape(yaml.safe_load(result.stdout))["services"]
    return services


def unescape(value: Any) -> Any:
    """Undo the ``$$`` escaping that ``config`` applies to every printed value."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {key: unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value


DEFAULTS_COMPOSE = """\
    services:
      app:
        image: ghcr.io/example/app:${APP_TAG:-2}
      worker:
        image: ghcr.io/example/app:${APP_TAG-2}
      ml:
        image: ghcr.io/example/ml:${APP_TAG:-release}-cuda
    """


@pytest.mark.parametrize(
    ("env_text", "environ"),
    [
        (None, {}),
        ("APP_TAG=2.3.1\n", {}),
        ("APP_TAG=\n", {}),
        ("APP_TAG=2.3.1\n", {"APP_TAG": "9"}),
    ],
    ids=["no-env-file", "env-file", "empty-value", "shell-wins"],
)
def test_defaults_match_compose_v1(
    tmp_path: Path, env_text: str | None, environ: dict[str, str]
) -> None:
    project_dir = tmp_path / "project"
    path = write(project_dir, "compose.yaml", DEFAULTS_COMPOSE)
    if env_text is not None:
        write(project_dir, ".env", env_text)

    expected = compose_v1_services([path], environ, tmp_path)
    _, services = load_project([path], environ=environ)

    assert {s.service: s.image_text for s in services} == {
        name: service["image"] for name, service in expected.items()
    }


def test_escapes_match_compose_v1(tmp_path: Path) -> None:
    path = write(
        tmp_path / "project",
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

    expected = compose_v1_services([path], {}, tmp_path)["web"]
    loaded = load_project_details([path], environ={})
    config = loaded.configs["web"]

    assert loaded.services[0].labels == expected["labels"]
    assert loaded.services[0].labels["updater.tag.include"].endswith("$")
    assert config["healthcheck"]["test"] == expected["healthcheck"]["test"]
    assert config["environment"] == expected["environment"]


def test_lone_dollar_matches_compose_v1(tmp_path: Path) -> None:
    path = write(
        tmp_path / "project",
        "compose.yaml",
        """\
        services:
          web:
            image: example/web:1.2.3
            labels:
              - "updater.tag.include=^\\\\d+$"
        """,
    )

    result = run_compose_v1([path], {}, tmp_path)
    project, _ = load_project([path], environ={})

    assert result.returncode != 0
    assert "Invalid interpolation format" in result.stderr
    assert [p.kind for p in project.problems] == [ProblemKind.INVALID_INTERPOLATION]
    assert "Invalid interpolation format" in project.problems[0].message


def test_required_variable_matches_compose_v1(tmp_path: Path) -> None:
    path = write(
        tmp_path / "project",
        "compose.yaml",
        """\
        services:
          server:
            image: example/server:1
            environment:
              SECRET_KEY: ${SECRET_KEY:?secret key required}
        """,
    )

    failed = run_compose_v1([path], {}, tmp_path)
    succeeded = compose_v1_services([path], {"SECRET_KEY": "s"}, tmp_path)
    project, services = load_project([path], environ={})

    assert failed.returncode != 0
    assert "secret key required" in failed.stderr
    assert [p.variable for p in project.problems] == ["SECRET_KEY"]
    assert "secret key required" in project.problems[0].message
    assert services[0].image_text == succeeded["server"]["image"]


def test_merging_matches_compose_v1(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    write(
        project_dir,
        "common/services.yaml",
        """\
        services:
          web-base:
            image: example/web:${WEB_TAG:-4}
            labels: {a: "1"}
        """,
    )
    base = write(
        project_dir,
        "compose.yaml",
        """\
        x-first: &first
          image: example/first:1
          labels: {from: first}
        x-second: &second
          image: example/second:1
          labels: {from: second, other: "2"}
        services:
          merged:
            <<: [*first, *second]
          web:
            extends:
              file: common/services.yaml
              service: web-base
            labels: {site: main}
          base:
            image: example/base:1
          child:
            extends: base
        """,
    )
    override = write(
        project_dir,
        "override.yaml",
        """\
        services:
          web:
            image: example/web:9
            labels:
              - site=override
              - added
          child:
            labels: [child=yes]
        """,
    )

    expected = compose_v1_services([base, override], {}, tmp_path)
    _, services = load_project([base, override], environ={})

    found = {s.service: (s.image_text, s.labels) for s in services}
    assert found == {
        name: (service["image"], service.get("labels", {})) for name, service in expected.items()
    }
