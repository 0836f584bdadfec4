"""``hullcheck accept`` and ``hullcheck risks`` run in-process through Typer's CliRunner."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from hullcheck.cli import main, risks
from hullcheck.exitcodes import ExitCode

# Wide enough that neither the table nor error lines wrap.
_ENV = {"COLUMNS": "400", "NO_COLOR": "1", "HULLCHECK_CONFIG": None, "HULLCHECK_RISKS_FILE": None}

LATER = (date.today() + timedelta(days=60)).isoformat()


@pytest.fixture
def app() -> typer.Typer:
    # A fresh app with the real root options, so registering twice never duplicates commands.
    application = typer.Typer(no_args_is_help=True, add_completion=False)
    application.callback()(main._root)
    risks.register(application)
    return application


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(directory))
    monkeypatch.delenv("HULLCHECK_RISKS_FILE", raising=False)
    monkeypatch.delenv("HULLCHECK_CONFIG", raising=False)
    return directory


def _invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**_ENV, **(env or {})})


def _accept(app: typer.Typer, *args: str) -> Result:
    return _invoke(app, "accept", *args)


def test_accept_writes_default_file(app: typer.Typer, config_home: Path) -> None:
    result = _accept(
        app, "CVE-2023-45853", "--image", "postgres:16", "--package", "zlib1g",
        "--reason", "minizip is not used", "--expires", LATER, "--by", "alice",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    path = config_home / "hullcheck" / "risks.yaml"
    entry = yaml.safe_load(path.read_text())["risks"][0]
    assert entry["id"] == "CVE-2023-45853"
    assert entry["image"] == "docker.io/library/postgres:16"
    assert entry["package"] == "zlib1g"
    assert entry["accepted_by"] == "alice"
    assert entry["expires"] == date.fromisoformat(LATER)
    assert f"until {LATER} in {path}" in result.stderr
    assert result.stdout == ""


def test_accept_file_option(app: typer.Typer, config_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"

    result = _accept(app, "CVE-2023-4911", "--reason", "r", "--expires", LATER, "--file", str(path))

    assert result.exit_code == 0, result.output
    assert path.exists()
    assert not (config_home / "hullcheck" / "risks.yaml").exists()


def test_accept_environment_file(app: typer.Typer, config_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "from-env.yaml"

    result = _invoke(
        app,
        "accept", "CVE-2023-4911", "--reason", "r", "--expires", LATER,
        env={"HULLCHECK_RISKS_FILE": str(path)},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert path.exists()


def test_accept_config_file_setting(app: typer.Typer, config_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "configured.yaml"
    config = tmp_path / "config.toml"
    config.write_text(f'risks_file = "{path}"\n')

    result = _invoke(
        app, "--config", str(config), "accept", "CVE-2023-4911", "--reason", "r",
        "--expires", LATER,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert path.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["CVE-2023-4911", "--reason", "r", "--expires", "2020-01-01"], "is not in the future"),
        (["CVE-2023-4911", "--reason", "r", "--expires", "tomorrow"], "invalid expiry date"),
        (["CVE-2023-4911", "--reason", " ", "--expires", LATER], "the reason is empty"),
        (["CVE-4911", "--reason", "r", "--expires", LATER], "invalid CVE ID"),
        (
            ["CVE-2023-4911", "--reason", "r", "--expires", LATER, "--image", "Bad Image"],
            "invalid image reference",
        ),
    ],
)
def test_accept_invalid_input(
    app: typer.Typer, config_home: Path, arguments: list[str], message: str
) -> None:
    result = _accept(app, *arguments)

    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert "hint: " in result.stderr
    assert not (config_home / "hullcheck" / "risks.yaml").exists()


def test_accept_requires_reason(app: typer.Typer, config_home: Path) -> None:
    result = _accept(app, "CVE-2023-4911", "--expires", LATER)

    assert result.exit_code == ExitCode.USAGE
    assert "--reason" in result.stderr


def test_accept_duplicate_rejected(app: typer.Typer, config_home: Path) -> None:
    first = _accept(app, "CVE-2023-4911", "--reason", "r", "--expires", LATER)
    second = _accept(app, "cve-2023-4911", "--reason", "again", "--expires", LATER)

    assert first.exit_code == 0, first.output
    assert second.exit_code == ExitCode.USAGE
    assert "CVE-2023-4911 is already accepted for all images" in second.stderr


def _write_register(path: Path) -> None:
    path.write_text(
        "version: 1\nrisks:\n"
        f"- id: CVE-2023-4911\n  image: docker.io/library/postgres\n  reason: no setuid use\n"
        f"  expires: {LATER}\n"
        "- id: CVE-2023-45853\n  package: pkg:deb/debian/zlib1g\n  reason: minizip unused\n"
        "  expires: 2024-01-31\n"
    )


def test_risks_table(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)

    result = _invoke(app, "risks", "--file", str(path))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    postgres = next(line for line in lines if "CVE-2023-4911" in line)
    zlib = next(line for line in lines if "CVE-2023-45853" in line)
    assert "image docker.io/library/postgres" in postgres
    assert "active" in postgres
    assert "expired" in zlib
    assert "2024-01-31" in zlib


def test_risks_json(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)

    result = _invoke(app, "risks", "--format", "json", "--file", str(path))

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["file"] == str(path)
    assert [(r["id"], r["status"]) for r in document["risks"]] == [
        ("CVE-2023-4911", "active"),
        ("CVE-2023-45853", "expired"),
    ]
    # LATER was computed at import, so a run that crosses midnight gets 59 days left.
    assert document["risks"][0]["days_left"] == (date.fromisoformat(LATER) - date.today()).days
    assert document["risks"][1]["days_left"] == 0


def test_risks_expired_only(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)

    result = _invoke(app, "risks", "--expired", "--format", "json", "--file", str(path))

    assert [r["id"] for r in json.loads(result.stdout)["risks"]] == ["CVE-2023-45853"]


def test_risks_empty_register(app: typer.Typer, config_home: Path) -> None:
    result = _invoke(app, "risks")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "No accepted risks in" in result.stderr
    assert not (config_home / "hullcheck").exists()


def test_risks_invalid_file(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text("risks:\n- id: CVE-2023-4911\n")

    result = _invoke(app, "risks", "--file", str(path))

    assert result.exit_code == ExitCode.USAGE
    assert "'reason' is missing" in result.stderr


def test_export_openvex_to_file(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)
    output = tmp_path / "hullcheck.openvex.json"

    result = _invoke(
        app, "risks", "export", "--format", "openvex", "--author", "ops@example.org",
        "--output", str(output), "--file", str(path),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(output.read_text())
    assert document["author"] == "ops@example.org"
    assert [s["vulnerability"]["name"] for s in document["statements"]] == ["CVE-2023-4911"]
    assert f"Wrote {output}" in result.stderr


def test_export_trivyignore_stdout(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)

    result = _invoke(
        app, "risks", "--file", str(path), "export", "--format", "trivyignore",
        "--image", "postgres:16",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert [entry["id"] for entry in document["vulnerabilities"]] == ["CVE-2023-4911"]


def test_export_reports_skipped(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text(
        f"risks:\n- id: CVE-2023-4911\n  image: docker.io/library/postgres\n  reason: r\n"
        f"  expires: {LATER}\n"
    )

    result = _invoke(app, "risks", "export", "--format", "trivyignore", "--file", str(path))

    assert result.exit_code == 0, result.output
    assert "skipped: CVE-2023-4911 for image docker.io/library/postgres" in result.stderr


def test_export_trivyignore_one_image(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    _write_register(path)

    result = _invoke(
        app, "risks", "export", "--format", "trivyignore", "--image", "a", "--image", "b",
        "--file", str(path),
    )  # fmt: skip

    assert result.exit_code == ExitCode.USAGE
    assert "at most one --image" in result.stderr


def test_export_requires_format(app: typer.Typer, tmp_path: Path) -> None:
    result = _invoke(app, "risks", "export", "--file", str(tmp_path / "risks.yaml"))

    assert result.exit_code == ExitCode.USAGE
    assert "--format" in result.stderr
