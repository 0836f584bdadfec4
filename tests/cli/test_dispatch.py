"""A run of one command imports that command's module only; the help still lists them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hullcheck.cli.main import COMMANDS, requested_command


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["scan", "stack"], "scan"),
        (["-v", "update", "--dry-run"], "update"),
        (["-vv", "--quiet", "scan"], "scan"),
        (["--config", "scan", "images"], "images"),  # "scan" is the config file's name here
        (["--config=hullcheck.toml", "--debug", "risks", "export"], "risks"),
        (["accept", "CVE-2024-1"], "accept"),
        (["--help"], None),
        (["--version"], None),
        (["scna"], None),
        ([], None),
    ],
)
def test_requested_command(arguments: list[str], expected: str | None) -> None:
    assert requested_command(arguments) == expected


def loaded_after(command: str | None) -> set[str]:
    """Return the modules loaded in a fresh interpreter after building the app for ``command``."""
    code = (
        "import sys; from hullcheck.cli.main import get_app; "
        f"get_app({command!r}); print('\\n'.join(sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(completed.stdout.split())


def test_scan_skips_unused_imports() -> None:
    loaded = loaded_after("scan")
    assert "hullcheck.cli.scan" in loaded
    assert not {"apprise", "jinja2", "hullcheck.cli.serve", "hullcheck.cli.notify"} & loaded


def test_help_registers_every_command() -> None:
    loaded = loaded_after(None)
    assert set(COMMANDS.values()) <= loaded
    completed = subprocess.run(
        [sys.executable, "-m", "hullcheck.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    for name in COMMANDS:
        assert f" {name} " in completed.stdout


def test_notification_names_still_import_from_the_package() -> None:
    from hullcheck.notification import NotifySettings, notify_run, redact_url

    assert callable(notify_run)
    assert callable(redact_url)
    assert NotifySettings.__module__ == "hullcheck.notification.service"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        from hullcheck import notification

        _ = notification.nothing  # type: ignore[attr-defined]
