"""Fixtures for the fault tests: a fault-injecting registry proxy and Compose stacks behind it.

Faults covered by other suites and not repeated here:
- a failing health check after an update is rolled back:
  tests/e2e/test_update_lab.py::test_failing_health_rolled_back;
- a second run while one holds the lock stops and names the holder:
  tests/e2e/test_update_lab.py::test_second_run_refused_while_locked;
- SIGTERM in the middle of a scan is stored as interrupted:
  tests/daemon/test_daemon_signals.py::test_sigterm_mid_scan_recorded;
- Trivy's own failure messages (rate-limited DB download, locked cache, corrupt-DB
  warning with an empty result) are classified: tests/scanning/test_trivy_failures.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_proxy import FaultProxy
from faults_lab import Stack, StackFactory

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.lab.services import Lab


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every run off this machine's files and off the network.

    An empty Docker config means no registry credentials are read. Private XDG
    directories keep caches, data and settings out of the home directory. DB updates are
    off unless a test turns them on, so Trivy never tries to download a DB.
    """
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{}\n")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    for variable in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "xdg" / variable.lower()))
    monkeypatch.delenv("HULLCHECK_CONFIG", raising=False)
    monkeypatch.setenv("HULLCHECK_DB_UPDATE", "skip")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def fault_proxy(lab: Lab) -> Iterator[FaultProxy]:
    """A proxy in front of the lab registry that forwards everything until given a fault."""
    proxy = FaultProxy(lab.registry).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def make_stack(lab: Lab, tmp_path: Path) -> Iterator[StackFactory]:
    """Write a one-project stack of ``{service: image}``, start it, and take it down afterwards."""
    started: list[Stack] = []

    def make(services: dict[str, str]) -> Stack:
        project = f"flt{secrets.token_hex(3)}"
        directory = tmp_path / project
        directory.mkdir()
        lines = ["services:"]
        for name, image in services.items():
            lines += [f"  {name}:", f"    image: {image}"]
        compose = directory / "compose.yaml"
        compose.write_text("\n".join(lines) + "\n")
        stack = Stack(lab, directory, compose, project)
        started.append(stack)
        run_compose([compose], ["up", "-d"], project=project, env=lab.env())
        return stack

    yield make
    for stack in started:
        run_compose(
            [stack.compose], ["down", "--timeout", "1"], project=stack.project, env=lab.env()
        )
