"""Fixtures for registry tests: real servers on 127.0.0.1, each stopped after its test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_lab import AuthProxy, FakeClock, RecordedSleep, RegistryServer, TokenServer

from hullcheck.registry import RegistryClient, RegistrySettings, UpdateChecker


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config directory, so the machine's own credentials are never read."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    root = tmp_path / "registry"
    root.mkdir()
    server = RegistryServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bearer_proxy(registry: RegistryServer, token_server: TokenServer) -> Iterator[AuthProxy]:
    proxy = AuthProxy(registry, tokens=token_server)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def open_proxy(registry: RegistryServer) -> Iterator[AuthProxy]:
    proxy = AuthProxy(registry)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def make_checker(clock: FakeClock, sleep: RecordedSleep) -> Iterator[Callable[..., UpdateChecker]]:
    clients: list[RegistryClient] = []

    def build(**settings: Any) -> UpdateChecker:
        client = RegistryClient(RegistrySettings(**settings), clock=clock, sleep=sleep)
        clients.append(client)
        return UpdateChecker(client)

    yield build
    for client in clients:
        client.close()
