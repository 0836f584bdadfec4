"""Settings: each one documented, and flag > env > config file > default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from hullcheck.cli.main import _root, get_app
from hullcheck.config import SETTINGS, setting

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def probe_app() -> typer.Typer:
    """An app with the real root callback and one command that prints a setting."""
    app = typer.Typer()
    app.callback()(_root)

    @app.command()
    def probe(
        severity: Annotated[str, setting("severity").option()] = str(setting("severity").default),
    ) -> None:
        typer.echo(f"severity={severity}")

    return app


def run_probe(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, file: str | None = None
) -> str:
    arguments = []
    if file is not None:
        config = tmp_path / "config.toml"
        config.write_text(file)
        arguments = ["--config", str(config)]
    result = CliRunner(env={"HULLCHECK_CONFIG": None, **(env or {})}).invoke(
        probe_app(), [*arguments, "probe", *args]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.mark.parametrize("definition", SETTINGS, ids=lambda s: s.name)
def test_setting_documented(definition: object) -> None:
    text = DOCS.read_text()
    assert f"`{definition.name}`" in text  # type: ignore[attr-defined]
    assert f"`{definition.env}`" in text  # type: ignore[attr-defined]
    if definition.flag:  # type: ignore[attr-defined]
        assert f"`{definition.flag}`" in text  # type: ignore[attr-defined]


def test_every_env_option_is_a_setting() -> None:
    import typer.main

    known = {s.env for s in SETTINGS} | {"HULLCHECK_CONFIG"}
    group = typer.main.get_command(get_app())
    undefined = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        commands = getattr(command, "commands", {name: command})
        for sub in commands.values():
            for parameter in sub.params:
                envvar = getattr(parameter, "envvar", None)
                if (
                    isinstance(envvar, str)
                    and envvar.startswith("HULLCHECK_")
                    and envvar not in known
                ):
                    undefined.append(f"{name} {parameter.name} {envvar}")
    assert undefined == []


def test_default_applies(tmp_path: Path) -> None:
    assert run_probe(tmp_path) == "severity=CRITICAL,HIGH"


def test_file_beats_default(tmp_path: Path) -> None:
    assert run_probe(tmp_path, file='severity = "LOW"\n') == "severity=LOW"


def test_env_beats_file(tmp_path: Path) -> None:
    output = run_probe(tmp_path, env={"HULLCHECK_SEVERITY": "MEDIUM"}, file='severity = "LOW"\n')

    assert output == "severity=MEDIUM"


def test_flag_beats_env(tmp_path: Path) -> None:
    output = run_probe(
        tmp_path,
        "--severity",
        "HIGH",
        env={"HULLCHECK_SEVERITY": "MEDIUM"},
        file='severity = "LOW"\n',
    )

    assert output == "severity=HIGH"


def test_unknown_key_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("sevrity = 'LOW'\n")

    result = CliRunner().invoke(probe_app(), ["--config", str(config), "probe"])

    assert result.exit_code == 2
    assert "unknown setting 'sevrity'" in result.stderr


def test_wrong_type_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("scan_timeout = 'slow'\n")

    result = CliRunner().invoke(probe_app(), ["--config", str(config), "probe"])

    assert result.exit_code == 2
    assert "scan_timeout" in result.stderr
    assert "must be a number" in result.stderr


def test_missing_named_file_rejected(tmp_path: Path) -> None:
    result = CliRunner().invoke(probe_app(), ["--config", str(tmp_path / "nope.toml"), "probe"])

    assert result.exit_code == 2
    assert "config file not found" in result.stderr


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('notify_urls = ["discord://1234/very-secret-token"]\n')
    config.chmod(0o600)

    result = CliRunner().invoke(
        get_app(), ["--config", str(config), "config", "show", "--format", "json"]
    )

    assert result.exit_code == 0, result.output
    assert "very-secret-token" not in result.output
    assert "discord://********" in result.stdout


def test_invalid_choice_names_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("policy = 'stricter'\n")

    result = CliRunner().invoke(probe_app(), ["--config", str(config), "probe"])

    assert result.exit_code == 2
    assert f"invalid value 'stricter' for 'policy' in {config}" in result.stderr
    assert "availability, strict, notify-only" in result.stderr
