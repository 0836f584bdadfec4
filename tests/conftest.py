"""Session-wide fixtures for tests that need the real lab: dockerd, a registry and Trivy.

The lab starts once per test session, on first use. When it cannot start (not root, a
Debian package missing), every test that uses it fails with the reason; nothing is
skipped. Tests that use these fixtures get the ``lab`` marker, so ``-m "not lab"`` leaves
them out.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullcheck.lab.services import Lab, LabError
from hullcheck.lab.trivydb import build_trivy_db

LAB_FIXTURES = frozenset({"lab", "lab_trivy_cache"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The session's lab; its engine and registry are shared, so use ``lab_repository``."""
    session_lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        session_lab.start()
    except LabError as error:
        pytest.fail(f"the test lab could not start: {error}", pytrace=False)
    try:
        yield session_lab
    finally:
        session_lab.stop(remove_root=True)


@pytest.fixture(scope="session")
def lab_trivy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Trivy cache directory holding the fixture vulnerability DB, for ``--skip-db-update``.

    Two Trivy processes on one cache directory fail on its lock, so scan with it one at a
    time, or copy it.
    """
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache)
    return cache


@pytest.fixture
def lab_repository(request: pytest.FixtureRequest) -> str:
    """A registry repository path that no other test uses, such as ``tests/name-1a2b3c``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    return f"tests/{name}-{secrets.token_hex(3)}"
