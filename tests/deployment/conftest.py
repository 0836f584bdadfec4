"""Compose projects on the lab engine for the deployment tests, taken down after each test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_stacks import ComposeStack, StackFactory

from hullcheck.lab.services import Lab


@pytest.fixture
def compose_stack(lab: Lab, tmp_path: Path) -> Iterator[StackFactory]:
    """Return a function that writes a compose file, starts it and takes it down at teardown.

    Call it as ``compose_stack(compose_yaml, profiles=("debug",))``.
    """
    started: list[ComposeStack] = []

    def start(compose_yaml: str, *, profiles: tuple[str, ...] = ()) -> ComposeStack:
        project = f"deploy{secrets.token_hex(4)}"
        directory = tmp_path / project
        directory.mkdir()
        stack = ComposeStack(lab, project, directory, profiles)
        stack.compose_file.write_text(compose_yaml, encoding="utf-8")
        started.append(stack)
        stack.up()
        return stack

    yield start
    for stack in started:
        stack.down()
