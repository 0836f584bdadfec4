"""``hullcheck diff`` between two scans on the lab, with first-seen dates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import copy_cache, invoke, lab_scan_arguments

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def test_diff_new_fixed_open(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = tmp_path / "compose.yaml"
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    old = publish(lab, "debian-base", lab_repository, "1")
    compose.write_text(f"services:\n  app:\n    image: {old.reference}\n")
    first = invoke("scan", compose, *lab_scan_arguments(lab, cache, data_dir))
    # The same tag now has a fixed libc6 and the Python packages of the ML image.
    publish(lab, "python-app", lab_repository, "1", package_versions={"libc6": "2.36-9+deb12u3"})
    second = invoke("scan", compose, *lab_scan_arguments(lab, cache, data_dir))
    assert first.exit_code == ExitCode.SUCCESS, first.stderr
    assert second.exit_code == ExitCode.SUCCESS, second.stderr

    # A recheck in between is no scan: diff still compares the two scans.
    rechecked = invoke(
        "recheck", "--cache-dir", cache, "--db-update", "skip", "--db", data_dir / "history.db"
    )
    assert rechecked.exit_code == ExitCode.SUCCESS, rechecked.stderr

    result = invoke("diff", "--format", "json", "--db", data_dir / "history.db")

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    document = json.loads(result.stdout)
    assert (document["older"], document["newer"]) == (1, 2)
    [image] = document["images"]
    assert image["status"] == "compared"
    assert [f["vulnerability_id"] for f in image["fixed"]] == ["CVE-2023-4911"]
    assert {f["vulnerability_id"] for f in image["new"]} == {
        "CVE-2022-40897",
        "CVE-2023-4863",
        "CVE-2024-6345",
    }
    still_open = {f["vulnerability_id"]: f for f in image["still_open"]}
    assert set(still_open) == {"CVE-2023-45853", "CVE-2024-0727"}
    assert all(f["first_seen"] for f in image["new"])
    assert still_open["CVE-2023-45853"]["first_seen"] < image["new"][0]["first_seen"]


def test_diff_needs_two_scans(tmp_path: Path, data_dir: Path) -> None:
    result = invoke("diff", "--db", data_dir / "history.db")

    assert result.exit_code == ExitCode.USAGE
