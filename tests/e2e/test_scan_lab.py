"""``hullcheck scan`` end to end on the lab: real engine, registry, Trivy and fixture DB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import copy_cache, counting_trivy, invoke, lab_scan_arguments, report, trivy_calls

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import fixture_image, publish
from hullcheck.lab.services import Lab


def write_compose(directory: Path, services: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["services:"]
    for name, image in services.items():
        lines += [f"  {name}:", f"    image: {image}", '    command: ["sleep", "infinity"]']
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def image_entry(document: dict[str, object], service: str) -> dict[str, object]:
    images = document["images"]
    assert isinstance(images, list)
    for image in images:
        if any(label.endswith(f"/{service}") for label in image["services"]):
            return image  # type: ignore[no-any-return]
    raise AssertionError(f"no image for service {service} in {images}")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def test_shared_image_scanned_once(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "debian-base", lab_repository, "1")
    # A second tag on the same image: still one image ID, so still one scan.
    lab.client().images.get(published.reference).tag(published.repository, "also")
    lab.client().images.push(published.repository, tag="also")
    compose = write_compose(
        tmp_path / "shared",
        {
            "web": published.reference,
            "worker": published.reference,
            "cron": f"{published.repository}:also",
        },
    )
    wrapper, log = counting_trivy(tmp_path)
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke(
        "scan", compose, "--format", "json", *lab_scan_arguments(lab, cache, data_dir, wrapper)
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    document = report(result)
    assert len(document["images"]) == 1
    image = document["images"][0]
    assert sorted(image["services"]) == ["shared/cron", "shared/web", "shared/worker"]
    assert image["severity_counts"]["CRITICAL"] == 1
    assert image["severity_counts"]["HIGH"] == 1
    assert trivy_calls(log).count("image") == 1


def test_counts_match_fixture_per_kind(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    kinds = ("debian-base", "alpine-base", "node-app", "python-app")
    services = {
        kind: publish(lab, kind, f"{lab_repository}/{kind}", "1").reference for kind in kinds
    }
    compose = write_compose(tmp_path / "kinds", services)
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", compose, "--format", "json", *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    document = report(result)
    assert document["scanner"]["trivy_version"] == "0.76.0"
    assert document["scanner"]["db_updated_at"]
    for kind in kinds:
        expected = fixture_image(kind).expected_counts
        image = image_entry(document, kind)
        for severity, count in expected.items():
            assert image["severity_counts"][severity.value] == count.total, (kind, severity)
            assert image["fixable_counts"][severity.value] == count.fixable, (kind, severity)


def test_missing_image_fails_alone(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    good = publish(lab, "alpine-base", lab_repository, "1")
    compose = write_compose(
        tmp_path / "mixed", {"good": good.reference, "gone": f"{good.repository}:does-not-exist"}
    )
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", compose, "--format", "json", *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SCAN_FAILED
    document = report(result)
    gone = image_entry(document, "gone")
    assert gone["status"] == "failed"
    assert gone["severity_counts"] is None
    assert "does-not-exist" in gone["reason"]
    assert image_entry(document, "good")["status"] == "scanned"
    assert document["run"]["status"] == "partial"

    history = invoke("history", "--format", "json", "--db", data_dir / "history.db")
    runs = json.loads(history.stdout)["runs"]
    assert runs[0]["status"] == "partial"


def test_table_names_failure_not_zero(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = write_compose(tmp_path / "absent", {"gone": f"{lab.registry}/{lab_repository}:nope"})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", compose, *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SCAN_FAILED
    assert "scan failed" in result.stdout
    assert "0 vulnerabilities" not in result.stdout


def test_reports_written_under_data_dir(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "alpine-base", lab_repository, "1")
    compose = write_compose(tmp_path / "written", {"db": published.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke(
        "scan", compose, "--format", "markdown", *lab_scan_arguments(lab, cache, data_dir)
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    reports = sorted(path.name for path in (data_dir / "reports").iterdir())
    assert reports == ["run-000001.json", "run-000001.md"]
    stored = json.loads((data_dir / "reports" / "run-000001.json").read_text())
    assert stored["schema_version"] == 1
    assert "0.76.0" in result.stdout


def test_data_files_private(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "alpine-base", lab_repository, "1")
    compose = write_compose(tmp_path / "private", {"db": published.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke("scan", compose, *lab_scan_arguments(lab, cache, data_dir))

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    paths = [data_dir, *data_dir.rglob("*")]
    assert len(paths) > 4
    for path in paths:
        mode = path.stat().st_mode & 0o777
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path} has mode {oct(mode)}"


def test_html_report_self_contained(
    lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    published = publish(lab, "debian-base", lab_repository, "1")
    compose = write_compose(tmp_path / "html", {"app": published.reference})
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")
    output = tmp_path / "report.html"

    result = invoke(
        "scan",
        compose,
        "--format",
        "html",
        "--output",
        output,
        *lab_scan_arguments(lab, cache, data_dir),
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    page = output.read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert "CVE-2023-45853" in page
    assert "<svg" in page
    assert "http://" not in page.split("<body", 1)[0]
    assert "<script src" not in page
    assert '<link rel="stylesheet"' not in page
