"""``hullcheck config``: show the effective settings and where each value comes from."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hullcheck.cli.console import report_console
from hullcheck.config import SETTINGS, Setting, current_config
from hullcheck.config.loader import default_config_path

config_app = typer.Typer(
    help="Show the settings hullcheck uses and where they come from.", no_args_is_help=True
)


def effective(setting: Setting) -> tuple[Any, str]:
    """Return the value a command gets when no flag is given, and its source."""
    if setting.env in os.environ:
        raw = os.environ[setting.env]
        return (raw.split() if setting.multiple else raw), f"env {setting.env}"
    config = current_config()
    if setting.name in config.values:
        return config.values[setting.name], f"file {config.path}"
    return setting.default, "default"


def shown(setting: Setting, value: Any) -> Any:
    """Hide secrets: URLs keep their scheme and host, tokens are replaced."""
    if not setting.secret or value in (None, [], ""):
        return value
    if isinstance(value, list):
        # Only the scheme is shown: the rest of a webhook URL is the credential.
        return [f"{str(item).partition('://')[0]}://********" for item in value]
    return "********"


@config_app.command("show")
def show_command(
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List every setting: value, source, env var and flag (secrets redacted)."""
    rows = []
    for setting in SETTINGS:
        value, source = effective(setting)
        rows.append(
            {
                "name": setting.name,
                "value": shown(setting, value),
                "source": source,
                "env": setting.env,
                "flag": setting.flag,
            }
        )
    if output_format == "json":
        typer.echo(
            json.dumps(
                {"config_file": str(current_config().path or ""), "settings": rows}, indent=2
            )
        )
        return
    table = Table(
        title=f"Settings (config file: {current_config().path or 'none'})", title_justify="left"
    )
    for column in ("Setting", "Value", "Source", "Env var", "Flag"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                Text(str(row[key]) if row[key] is not None else "-")
                for key in ("name", "value", "source", "env", "flag")
            )
        )
    report_console().print(table)


@config_app.command("path")
def path_command() -> None:
    """Print the config file in use, or where hullcheck looks for one."""
    typer.echo(str(current_config().path or default_config_path()))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
