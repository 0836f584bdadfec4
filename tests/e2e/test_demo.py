"""``hullcheck demo`` as a user runs it: its own lab, the Immich-shaped stack, real Trivy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.stack import expected_counts_by_service

HULLCHECK = Path(sys.executable).parent / "hullcheck"


def test_demo_counts_match_fixture_db(tmp_path: Path) -> None:
    env = {**os.environ, "HULLCHECK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    completed = subprocess.run(
        [str(HULLCHECK), "demo"], capture_output=True, text=True, env=env, timeout=600, check=False
    )

    assert completed.returncode == ExitCode.SUCCESS, completed.stderr[-3000:]
    assert "Critical and High vulnerabilities per image" in completed.stdout
    reports = sorted((tmp_path / "data" / "demo" / "reports").glob("*.json"))
    assert len(reports) == 1
    document = json.loads(reports[0].read_text())
    assert document["run"]["status"] == "complete"
    assert document["scanner"]["trivy_version"] == "0.76.0"

    expected = expected_counts_by_service()
    assert len(document["images"]) == len(expected)
    for service, counts in expected.items():
        [image] = [i for i in document["images"] if f"immich/{service}" in i["services"]]
        for severity, count in counts.items():
            assert image["severity_counts"][severity.value] == count.total, (service, severity)
            assert image["fixable_counts"][severity.value] == count.fixable, (service, severity)


def test_demo_leaves_nothing_running(tmp_path: Path) -> None:
    env = {**os.environ, "HULLCHECK_DATA_DIR": str(tmp_path / "data")}
    workdir = tmp_path / "work"

    completed = subprocess.run(
        [str(HULLCHECK), "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )

    assert completed.returncode == ExitCode.SUCCESS, completed.stderr[-3000:]
    assert _processes_mentioning(str(workdir)) == []


def _processes_mentioning(text: str) -> list[str]:
    """Return the command lines of live processes that have ``text`` in an argument."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in arguments:
            found.append(arguments.replace("\0", " "))
    return found
