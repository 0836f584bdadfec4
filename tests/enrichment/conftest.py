"""Fixtures of the enrichment tests: a local feed server, an HTTP session, a cache directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from feed_fixtures import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    # Proxy variables of the environment must not route loopback requests elsewhere.
    client = requests.Session()
    client.trust_env = False
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "feeds"
