"""Fixtures of the reporting tests; the data itself is in ``reporting_fixtures.py``."""

from __future__ import annotations

import pytest
from reporting_fixtures import make_run

from hullcheck.run import RunRecord


@pytest.fixture
def run() -> RunRecord:
    return make_run()
