"""Invalid compose files stop ``scan`` with exit code 2 and name the file, and the line if known.

No engine is needed: the input is rejected before anything is scanned, and no run is stored.
"""

from __future__ import annotations

from pathlib import Path

from faults_lab import invoke
from typer.testing import Result

from hullcheck.exitcodes import ExitCode


def scan_file(tmp_path: Path, text: str) -> tuple[Path, Result]:
    compose = tmp_path / "compose.yaml"
    compose.write_text(text)
    result = invoke(
        "scan",
        compose,
        "--docker-host",
        f"unix://{tmp_path}/no-engine.sock",
        "--cache-dir",
        tmp_path / "empty-cache",
        "--db-update",
        "skip",
        "--db",
        tmp_path / "history.db",
    )
    return compose, result


def test_yaml_syntax_error_names_line(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(
        tmp_path, "services:\n  app:\n    image: example/app:1\n   broken: [\n"
    )

    assert result.exit_code == ExitCode.USAGE
    assert f"invalid YAML in {compose}, line 4" in result.stderr
    assert "fix the YAML syntax" in result.stderr
    assert not (tmp_path / "history.db").exists()


def test_top_level_list_names_line(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(tmp_path, "- app\n- web\n")

    assert result.exit_code == ExitCode.USAGE
    assert f"invalid compose file {compose}, line 1" in result.stderr
    assert "must be a mapping" in result.stderr


def test_services_list_names_file(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(tmp_path, "services:\n  - app\n")

    assert result.exit_code == ExitCode.USAGE
    assert f"invalid compose file {compose}, line 2: 'services' must be a mapping" in result.stderr


def test_misspelt_services_key_rejected(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(tmp_path, "servics:\n  app:\n    image: example/app:1\n")

    assert result.exit_code == ExitCode.USAGE
    assert "unknown top-level key 'servics'" in result.stderr
    assert str(compose) in result.stderr
    assert "'services:'" in result.stderr
    assert not (tmp_path / "history.db").exists()


def test_services_list_names_line(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(tmp_path, "services:\n  - app\n")

    assert f"{compose}, line 2" in result.stderr


def test_volumes_number_rejected(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(
        tmp_path, "services:\n  app:\n    image: example/app:1\nvolumes: 5\n"
    )

    assert result.exit_code == ExitCode.USAGE
    assert "volumes" in result.stderr
    assert str(compose) in result.stderr


def test_unknown_top_level_key_reported(tmp_path: Path, data_dir: Path) -> None:
    compose, result = scan_file(
        tmp_path, "services:\n  app:\n    image: example/app:1\nservice_defaults: {}\n"
    )

    assert "service_defaults" in result.stderr
    assert str(compose) in result.stderr
