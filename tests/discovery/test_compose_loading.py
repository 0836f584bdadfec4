"""Compose loading: files, overrides, merging, extends, include, names and YAML details."""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullcheck.discovery.compose import (
    discover_compose,
    find_compose_files,
    load_project,
    load_project_details,
)
from hullcheck.discovery.compose_project import normalize_project_name
from hullcheck.discovery.models import DiscoveryError, ProblemKind, ServiceImage
from hullcheck.errors import ConfigurationError


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def by_service(services: list[ServiceImage]) -> dict[str, ServiceImage]:
    return {service.service: service for service in services}


def images(services: list[ServiceImage]) -> dict[str, str | None]:
    return {service.service: service.image_text for service in services}


SIMPLE = """\
    services:
      app:
        image: example/app:1
    """


# Which files Compose picks.


def test_find_files_prefers_compose_yaml(tmp_path: Path) -> None:
    for name in ("docker-compose.yml", "compose.yaml", "compose.yml"):
        write(tmp_path, name, SIMPLE)

    assert find_compose_files(tmp_path) == [tmp_path / "compose.yaml"]


def test_find_files_adds_first_override(tmp_path: Path) -> None:
    write(tmp_path, "docker-compose.yml", SIMPLE)
    write(tmp_path, "docker-compose.override.yml", SIMPLE)
    write(tmp_path, "compose.override.yaml", SIMPLE)

    assert find_compose_files(tmp_path) == [
        tmp_path / "docker-compose.yml",
        tmp_path / "compose.override.yaml",
    ]


def test_find_files_empty_directory(tmp_path: Path) -> None:
    write(tmp_path, "compose.override.yaml", SIMPLE)

    assert find_compose_files(tmp_path) == []


def test_override_used_only_for_directory(tmp_path: Path) -> None:
    main = write(tmp_path, "compose.yaml", SIMPLE)
    write(
        tmp_path,
        "compose.override.yaml",
        """\
        services:
          app:
            image: example/app:2
        """,
    )

    _, from_directory = load_project([tmp_path], environ={})
    _, from_file = load_project([main], environ={})

    assert images(from_directory) == {"app": "example/app:2"}
    assert by_service(from_directory)["app"].defined_in == tmp_path / "compose.override.yaml"
    assert images(from_file) == {"app": "example/app:1"}
    assert by_service(from_file)["app"].defined_in == main


def test_compose_file_variable_selects_files(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", SIMPLE)
    write(tmp_path, "compose.override.yaml", "services:\n  app:\n    image: example/app:9\n")
    base = write(tmp_path, "stack/base.yml", "services:\n  app:\n    image: example/app:2\n")
    extra = write(tmp_path, "stack/extra.yml", "services:\n  extra:\n    image: x/extra:1\n")
    write(tmp_path, ".env", "COMPOSE_FILE=stack/base.yml:stack/extra.yml\n")

    project, services = load_project([tmp_path], environ={})

    assert project.files == (base, extra)
    assert images(services) == {"app": "example/app:2", "extra": "x/extra:1"}
    assert project.env_file == tmp_path / ".env"


# Merging several files.


def test_files_merge_in_order(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yaml",
        """\
        services:
          web:
            image: example/web:1
            labels:
              keep: "yes"
              change: old
            profiles: [a]
            command: ["serve", "--old"]
          db:
            image: postgres:16
        """,
    )
    override = write(
        tmp_path,
        "override.yaml",
        """\
        services:
          web:
            labels:
              - change=new
              - added
            profiles: [b, a]
            command: ["serve"]
          worker:
            build: ./worker
        """,
    )

    loaded = load_project_details([base, override], environ={})
    project, services = loaded.project, loaded.services

    web = by_service(services)["web"]
    assert web.image_text == "example/web:1"
    assert web.defined_in == base
    assert web.labels == {"keep": "yes", "change": "new", "added": ""}
    assert web.profiles == ("a", "b")
    assert loaded.configs["web"]["command"] == ["serve"]
    assert list(by_service(services)) == ["web", "db", "worker"]
    assert project.files == (base, override)
    assert project.working_dir == tmp_path


def test_later_file_image_wins(tmp_path: Path) -> None:
    base = write(tmp_path, "a.yaml", SIMPLE)
    other = tmp_path / "sub"
    override = write(
        other,
        "b.yaml",
        """\
        services:
          app:
            image: example/app:${TAG:-3}
        """,
    )

    _, services = load_project([base, override], environ={})

    assert images(services) == {"app": "example/app:3"}
    assert services[0].defined_in == override


def test_reset_and_override_tags(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "a.yaml",
        """\
        services:
          app:
            image: example/app:1
            build: .
            labels:
              a: "1"
              b: "2"
        """,
    )
    override = write(
        tmp_path,
        "b.yaml",
        """\
        services:
          app:
            build: !reset null
            labels: !override
              c: "3"
        """,
    )

    _, services = load_project([base, override], environ={})

    app = services[0]
    assert not app.local_build
    assert app.labels == {"c": "3"}
    assert app.image_text == "example/app:1"


# YAML details.


def test_merge_keys_list_form(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        x-first: &first
          image: example/first:1
          labels:
            from: first
        x-second: &second
          image: example/second:1
          restart: always
        services:
          both:
            <<: [*first, *second]
          explicit:
            <<: [*first, *second]
            image: example/explicit:1
          single:
            <<: *second
        """,
    )

    _, services = load_project([path], environ={})

    assert images(services) == {
        "both": "example/first:1",
        "explicit": "example/explicit:1",
        "single": "example/second:1",
    }
    assert by_service(services)["both"].labels == {"from": "first"}


def test_yaml_12_scalars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          on:
            image: example/on:1
            labels:
              enabled: yes
              flag: true
              port: 0800
              date: 2024-01-01
        """,
    )

    _, services = load_project([path], environ={})

    service = services[0]
    assert service.service == "on"
    assert service.labels == {
        "enabled": "yes",
        "flag": "true",
        "port": "800",
        "date": "2024-01-01",
    }


def test_several_documents_merge(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            image: example/app:1
        ---
        services:
          app:
            image: example/app:2
          other:
            image: example/other:1
        """,
    )

    _, services = load_project([path], environ={})

    assert images(services) == {"app": "example/app:2", "other": "example/other:1"}


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", "services:\n  app:\n    image: [unclosed\n")

    with pytest.raises(DiscoveryError) as caught:
        load_project([path], environ={})

    assert str(path) in caught.value.message
    assert "line 4" in caught.value.message


def test_duplicate_key_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", "services:\n  app:\n    image: a\n    image: b\n")

    with pytest.raises(DiscoveryError) as caught:
        load_project([path], environ={})

    assert str(path) in caught.value.message
    assert "line 4" in caught.value.message
    assert "'image'" in caught.value.message


def test_top_level_list_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", "- app\n")

    with pytest.raises(DiscoveryError, match="must be a mapping"):
        load_project([path], environ={})


def test_x_sections_not_services(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        x-common: &common
          image: example/common:1
          labels:
            cost: "$$5"
        services:
          app:
            <<: *common
            x-extra: "$$kept"
        """,
    )

    project, services = load_project([path], environ={})

    assert images(services) == {"app": "example/common:1"}
    assert services[0].labels == {"cost": "$5"}
    assert project.problems == ()


def test_x_section_errors_block_deploy(tmp_path: Path) -> None:
    # compose-go interpolates the whole file, x- sections included.
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        x-notes:
          text: "${NOTES:?notes required}"
        services:
          app:
            image: example/app:1
        """,
    )

    project, services = load_project([path], environ={})

    assert images(services) == {"app": "example/app:1"}
    assert services[0].problems == ()
    assert [p.variable for p in project.problems] == ["NOTES"]
    assert "x-notes.text" in project.problems[0].message
    assert not project.deployable


# Broken service definitions.


def test_null_service_body_is_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          empty:
          listed: [a, b]
          app:
            image: example/app:1
          nothing: {}
        """,
    )

    project, services = load_project([path], environ={})

    found = by_service(services)
    assert found["app"].image is not None
    assert found["empty"].image is None
    assert [p.kind for p in found["empty"].problems] == [ProblemKind.INVALID_COMPOSE]
    assert "empty definition" in found["empty"].problems[0].message
    assert "must be a mapping" in found["listed"].problems[0].message
    assert "neither an image nor a build" in found["nothing"].problems[0].message
    assert not project.deployable


def test_problem_in_inactive_service_does_not_block(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            image: example/app:1
          tool:
            image: example/Tool:1
            profiles: [tools]
        """,
    )

    project, services = load_project([path], environ={})

    tool = by_service(services)["tool"]
    assert [p.kind for p in tool.problems] == [ProblemKind.INVALID_REFERENCE]
    assert not tool.problems[0].blocks_deploy
    assert project.deployable


def test_unset_variable_warns_without_blocking(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            image: example/app:1
            environment:
              TOKEN: ${TOKEN}
        """,
    )

    project, services = load_project([path], environ={})

    problems = services[0].problems
    assert [(p.kind, p.variable, p.blocks_deploy) for p in problems] == [
        (ProblemKind.MISSING_VARIABLE, "TOKEN", False)
    ]
    assert project.deployable


# extends.


def test_extends_within_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          base:
            image: example/base:1
            labels: {from: base}
          middle:
            extends: base
            labels: {middle: "yes"}
          child:
            extends:
              service: middle
            environment: {A: "1"}
        """,
    )

    project, services = load_project([path], environ={})

    child = by_service(services)["child"]
    assert child.image_text == "example/base:1"
    assert child.labels == {"from": "base", "middle": "yes"}
    assert child.defined_in == path
    assert project.problems == ()


def test_extends_across_files(tmp_path: Path) -> None:
    common = write(
        tmp_path,
        "common/services.yaml",
        """\
        services:
          web-base:
            image: example/web:${WEB_TAG:-4}
            env_file: web.env
        """,
    )
    write(tmp_path, "common/web.env", "A=1\n")
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          web:
            extends:
              file: common/services.yaml
              service: web-base
            labels: {site: main}
        """,
    )

    project, services = load_project([path], environ={})

    web = services[0]
    assert web.image_text == "example/web:4"
    assert web.defined_in == common
    assert web.labels == {"site": "main"}
    assert project.problems == ()


def test_extends_cycle_is_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          a:
            extends: b
            image: example/a:1
          b:
            extends: a
          ok:
            image: example/ok:1
        """,
    )

    project, services = load_project([path], environ={})

    assert by_service(services)["ok"].image is not None
    assert by_service(services)["a"].image_text == "example/a:1"
    cycles = [p for p in project.problems if "extends cycle" in p.message]
    assert cycles
    assert not project.deployable


def test_extends_missing_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            extends: {service: nowhere, file: other.yaml}
            image: example/app:1
        """,
    )

    project, services = load_project([path], environ={})

    assert services[0].image_text == "example/app:1"
    kinds = [p.kind for p in services[0].problems]
    assert kinds == [ProblemKind.MISSING_FILE]
    assert "other.yaml" in services[0].problems[0].message
    assert not project.deployable


def test_extends_missing_service(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            extends: nowhere
            image: example/app:1
        """,
    )

    project, services = load_project([path], environ={})

    assert services[0].image_text == "example/app:1"
    assert [p.kind for p in services[0].problems] == [ProblemKind.INVALID_COMPOSE]
    assert "service nowhere not found" in services[0].problems[0].message
    assert not project.deployable


# include.


def test_include_cycle_is_problem(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "compose.yaml",
        """\
        include: [a/compose.yaml]
        services:
          root:
            image: example/root:1
        """,
    )
    write(
        tmp_path,
        "a/compose.yaml",
        """\
        include: [../compose.yaml]
        services:
          a:
            image: example/a:1
        """,
    )

    project, services = load_project([root], environ={})

    assert images(services) == {"root": "example/root:1", "a": "example/a:1"}
    cycles = [p for p in project.problems if "include cycle" in p.message]
    assert len(cycles) == 1
    assert str(root) in cycles[0].message
    assert not project.deployable


def test_include_missing_file_and_conflict(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "compose.yaml",
        """\
        include:
          - missing/compose.yaml
          - path: [other/compose.yaml]
            project_directory: other
        services:
          app:
            image: example/app:1
        """,
    )
    write(
        tmp_path,
        "other/compose.yaml",
        """\
        services:
          app:
            image: example/app:2
          extra:
            image: example/extra:1
        """,
    )

    project, services = load_project([root], environ={})

    assert images(services) == {"app": "example/app:1", "extra": "example/extra:1"}
    kinds = sorted(p.kind for p in project.problems)
    assert kinds == [ProblemKind.INVALID_COMPOSE, ProblemKind.MISSING_FILE]
    assert not project.deployable


def test_include_env_file_and_parent_variables(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "compose.yaml",
        """\
        include:
          - path: sub/compose.yaml
            env_file: sub.env
        """,
    )
    write(tmp_path, "sub.env", "SUB_TAG=7\nSHARED=from-include\n")
    write(tmp_path, ".env", "SHARED=from-parent\n")
    write(
        tmp_path,
        "sub/compose.yaml",
        """\
        services:
          sub:
            image: example/sub:${SUB_TAG}
            labels:
              shared: ${SHARED}
        """,
    )

    _, services = load_project([root], environ={})

    assert services[0].image_text == "example/sub:7"
    assert services[0].labels == {"shared": "from-parent"}


# Project names and env files.


@pytest.mark.parametrize(
    ("text", "expected"),
    [("My Project", "myproject"), ("_-app.v2", "appv2"), ("home", "home"), ("Ünïcode", "ncode")],
)
def test_normalize_project_name(text: str, expected: str) -> None:
    assert normalize_project_name(text) == expected


def test_project_name_precedence(tmp_path: Path) -> None:
    directory = tmp_path / "My Stack"
    path = write(
        directory,
        "compose.yaml",
        """\
        name: ${STACK:-Named_Stack}
        services:
          app:
            build: .
            labels:
              project: ${COMPOSE_PROJECT_NAME}
        """,
    )

    from_file, services = load_project([path], environ={})
    from_env_file = load_project(
        [path], environ={}, env_file=write(tmp_path, "vars.env", "COMPOSE_PROJECT_NAME=fromenv\n")
    )[0]
    from_shell = load_project([path], environ={"COMPOSE_PROJECT_NAME": "fromshell"})[0]
    explicit = load_project(
        [path], environ={"COMPOSE_PROJECT_NAME": "fromshell"}, project_name="explicit"
    )[0]

    assert from_file.name == "named_stack"
    assert services[0].local_image_name == "named_stack-app"
    assert services[0].labels == {"project": "named_stack"}
    assert from_env_file.name == "fromenv"
    assert from_shell.name == "fromshell"
    assert explicit.name == "explicit"


def test_project_name_from_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "My Stack", "compose.yaml", SIMPLE)

    project, _ = load_project([path], environ={})

    assert project.name == "mystack"


def test_invalid_explicit_project_name(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", SIMPLE)

    with pytest.raises(ConfigurationError, match="'My Stack'"):
        load_project([path], environ={}, project_name="My Stack")


def test_explicit_env_file_replaces_project_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """\
        services:
          app:
            image: example/app:${TAG:-0}
        """,
    )
    write(tmp_path, ".env", "TAG=1\n")
    other = write(tmp_path, "prod.env", "TAG=2\n")

    project, services = load_project([path], environ={}, env_file=other)

    assert images(services) == {"app": "example/app:2"}
    assert project.env_file == other


def test_missing_explicit_env_file(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", SIMPLE)
    absent = tmp_path / "absent.env"

    with pytest.raises(DiscoveryError) as caught:
        load_project([path], environ={}, env_file=absent)

    assert str(absent) in caught.value.message


# discover_compose: several paths.


def test_discover_files_and_directories(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "compose.yaml", SIMPLE)
    second = write(tmp_path / "one", "extra.yaml", "services:\n  extra:\n    image: x/y:1\n")
    write(tmp_path / "two", "docker-compose.yml", "services:\n  two:\n    image: x/two:1\n")

    result = discover_compose([first, second, tmp_path / "two"], environ={})

    assert [project.name for project in result.projects] == ["one", "two"]
    assert result.projects[0].files == (first, second)
    assert [s.service for s in result.services] == ["app", "extra", "two"]
    assert result.problems == []


def test_discover_records_broken_project(tmp_path: Path) -> None:
    write(tmp_path / "good", "compose.yaml", SIMPLE)
    write(tmp_path / "bad", "compose.yaml", "services: [\n")
    (tmp_path / "empty").mkdir()

    result = discover_compose([tmp_path / "good", tmp_path / "bad", tmp_path / "empty"], environ={})

    assert [project.name for project in result.projects] == ["good"]
    messages = [problem.message for problem in result.problems]
    assert len(messages) == 2
    assert "invalid YAML" in messages[0]
    assert "no compose file" in messages[1]
    kinds = [problem.kind for problem in result.problems]
    assert kinds == [ProblemKind.INVALID_COMPOSE, ProblemKind.MISSING_FILE]


def test_discover_raises_when_nothing_loads(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services: [\n")

    with pytest.raises(DiscoveryError, match="invalid YAML"):
        discover_compose([tmp_path], environ={})


def test_discover_flags_duplicate_names(tmp_path: Path) -> None:
    write(tmp_path / "a" / "stack", "compose.yaml", SIMPLE)
    write(tmp_path / "b" / "stack", "compose.yaml", SIMPLE)

    result = discover_compose([tmp_path / "a" / "stack", tmp_path / "b" / "stack"], environ={})

    assert len(result.projects) == 2
    assert len(result.problems) == 1
    assert "both named stack" in result.problems[0].message
    assert not result.problems[0].blocks_deploy


def test_project_name_needs_single_project(tmp_path: Path) -> None:
    write(tmp_path / "a", "compose.yaml", SIMPLE)
    write(tmp_path / "b", "compose.yaml", SIMPLE)

    with pytest.raises(ConfigurationError):
        discover_compose([tmp_path / "a", tmp_path / "b"], environ={}, project_name="x")


# Robustness: odd input gives problems or a DiscoveryError, never another exception.

_fuzz_keys = st.sampled_from(
    [
        *("image", "build", "labels", "environment", "env_file", "extends", "profiles"),
        *("command", "healthcheck", "x-a", "include", "path", "service", "file", "context"),
    ]
)
_fuzz_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(alphabet="ab$/{}:-?+.x", max_size=12),
    st.sampled_from(["nginx", "${A:-b}", "$$", "./d", "other.yaml", "x=y", "a"]),
)
_fuzz_values = st.recursive(
    _fuzz_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_fuzz_keys, children, max_size=4)
    ),
    max_leaves=12,
)
_fuzz_documents = st.dictionaries(
    st.sampled_from(["services", "include", "name", "x-base", "volumes"]),
    st.one_of(_fuzz_values, st.dictionaries(st.sampled_from(["a", "b", "on"]), _fuzz_values)),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_fuzz_documents, _fuzz_documents)
def test_odd_documents_never_crash(document: dict[str, Any], other: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        main = write(root, "compose.yaml", yaml.safe_dump(document))
        second = write(root, "other.yaml", yaml.safe_dump(other))

        for paths in ([main], [main, second], [root]):
            with contextlib.suppress(DiscoveryError):
                load_project(paths, environ={"A": "1"}, profiles=["a"])
