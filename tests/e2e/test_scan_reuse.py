"""Repeated scans on the lab: same image and DB reuse results; a newer DB re-matches SBOMs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import copy_cache, counting_trivy, invoke, lab_scan_arguments, report, trivy_calls
from test_scan_lab import write_compose

from hullcheck.analysis.models import Severity
from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.lab.trivydb import OsAdvisory, Vulnerability, build_trivy_db, load_advisories


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def scan(compose: Path, lab: Lab, cache: Path, data_dir: Path, wrapper: Path) -> dict[str, object]:
    result = invoke(
        "scan", compose, "--format", "json", *lab_scan_arguments(lab, cache, data_dir, wrapper)
    )
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    return report(result)


def counts_by_image(document: dict[str, object]) -> dict[str, dict[str, int]]:
    return {image["image"]: image["severity_counts"] for image in document["images"]}  # type: ignore[index,union-attr]


def test_same_db_reuses_newer_db_rematches(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    kinds = ("debian-base", "python-app")
    services = {
        kind: publish(lab, kind, f"{lab_repository}/{kind}", "1").reference for kind in kinds
    }
    compose = write_compose(tmp_path / "reuse", services)
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    wrapper, log = counting_trivy(tmp_path)

    first = scan(compose, lab, cache, data_dir, wrapper)
    after_first = trivy_calls(log)
    second = scan(compose, lab, cache, data_dir, wrapper)
    after_second = trivy_calls(log)[len(after_first) :]

    assert after_first.count("image") == 2
    assert after_first.count("convert") == 2
    assert after_second.count("image") == 0
    assert after_second.count("sbom") == 0
    assert {i["source"] for i in second["images"]} == {"reused"}  # type: ignore[union-attr,index]
    assert counts_by_image(second) == counts_by_image(first)

    # A newer DB with one more zlib advisory: the SBOMs are matched again, no image analysed.
    advisories = load_advisories()
    advisories.add_vulnerability(
        Vulnerability(
            id="CVE-2022-37434",
            title="zlib: heap-based buffer over-read in inflate",
            description="",
            severity=Severity.CRITICAL,
        )
    )
    advisories.add_advisory(
        "debian 12", "zlib", "CVE-2022-37434", OsAdvisory(fixed_version="1:1.2.13.dfsg-2")
    )
    build_trivy_db(cache, advisories, updated_at=datetime.now(UTC) + timedelta(minutes=1))
    before_third = len(trivy_calls(log))

    third = scan(compose, lab, cache, data_dir, wrapper)
    after_third = trivy_calls(log)[before_third:]

    assert after_third.count("image") == 0
    # Both images are on Debian, so their SBOMs are merged and matched by one process.
    assert after_third.count("sbom") == 1
    assert {i["source"] for i in third["images"]} == {"sbom"}  # type: ignore[union-attr,index]
    for image, counts in counts_by_image(third).items():
        assert counts["CRITICAL"] == counts_by_image(first)[image]["CRITICAL"] + 1


def test_rescan_analyses_again(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "alpine-base", lab_repository, "1")
    compose = write_compose(tmp_path / "rescan", {"db": published.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    wrapper, log = counting_trivy(tmp_path)

    scan(compose, lab, cache, data_dir, wrapper)
    result = invoke(
        "scan",
        compose,
        "--rescan",
        "--format",
        "json",
        *lab_scan_arguments(lab, cache, data_dir, wrapper),
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert trivy_calls(log).count("image") == 2
    assert trivy_calls(log).count("sbom") == 0
