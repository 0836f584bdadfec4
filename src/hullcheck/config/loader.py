"""Read the TOML config file and hand its values to the commands as Click defaults.

Click looks a parameter's value up in this order: the command line, the option's
environment variable, the context's ``default_map``, the parameter default. The loaded
file becomes the ``default_map`` of every command, so a file value sits exactly between
the environment and the built-in default.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from hullcheck.config.settings import BY_NAME, Setting
from hullcheck.errors import ConfigurationError
from hullcheck.paths import config_dir

logger = logging.getLogger(__name__)

CONFIG_ENV = "HULLCHECK_CONFIG"
CONFIG_FILE_NAME = "config.toml"


@dataclass
class ConfigFile:
    path: Path | None
    """The file read, or None when there is none."""
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """Return the file's value for ``name``, else the setting's default."""
        if name in self.values:
            return self.values[name]
        return BY_NAME[name].default


def default_config_path() -> Path:
    return config_dir(create=False) / CONFIG_FILE_NAME


def load_config_file(path: Path | None = None) -> ConfigFile:
    """Load ``path``, else $HULLCHECK_CONFIG, else the default file when it exists.

    An explicitly named file must exist. Unknown keys and wrong types raise
    ConfigurationError naming the file, the key and the fix.
    """
    explicit = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    chosen = explicit or default_config_path()
    if not chosen.exists():
        if explicit is not None:
            raise ConfigurationError(
                f"config file not found: {chosen}",
                hint=f"create it, or unset {CONFIG_ENV} / --config to use {default_config_path()}",
            )
        return ConfigFile(path=None)

    try:
        document = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(
            f"invalid TOML in {chosen}: {error}", hint="fix the syntax at that line"
        ) from error
    except OSError as error:
        raise ConfigurationError(f"cannot read config file {chosen}: {error}") from error

    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in BY_NAME:
            known = ", ".join(sorted(BY_NAME))
            raise ConfigurationError(
                f"unknown setting {key!r} in {chosen}",
                hint=f"remove it or use one of: {known}",
            )
        values[key] = _checked_value(BY_NAME[key], value, chosen)

    _warn_if_secrets_readable(chosen, values)
    logger.debug("Loaded settings %s from %s", ", ".join(sorted(values)), chosen)
    return ConfigFile(path=chosen, values=values)


def _checked_value(setting: Setting, value: Any, path: Path) -> Any:
    """Check a file value against the setting's type; a list setting also takes one string."""
    if setting.multiple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigurationError(
                f"setting {setting.name!r} in {path} must be a list of strings",
                hint=f'for example {setting.name} = ["value"]',
            )
        return value
    if setting.choices and value not in setting.choices:
        raise ConfigurationError(
            f"invalid value {value!r} for {setting.name!r} in {path}",
            hint=f"use one of: {', '.join(setting.choices)}",
        )
    expected = type(setting.default) if setting.default is not None else str
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ConfigurationError(
            f"setting {setting.name!r} in {path} must be {_type_name(expected)}, not {type(value).__name__}",
            hint=f"see `hullcheck config show` and docs/configuration.md for {setting.name}",
        )
    return value


def _type_name(kind: type) -> str:
    return {str: "a string", float: "a number", int: "an integer", bool: "true or false"}.get(
        kind, kind.__name__
    )


def _warn_if_secrets_readable(path: Path, values: dict[str, Any]) -> None:
    secrets = [name for name in values if BY_NAME[name].secret]
    mode = path.stat().st_mode
    if secrets and mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning(
            "%s contains %s but other users can read it; run: chmod 600 %s",
            path,
            ", ".join(secrets),
            path,
        )


_active: list[ConfigFile] = [ConfigFile(path=None)]
"""The config of the running command; one per process, replaced by each CLI invocation."""


def apply_to_context(context: typer.Context, config: ConfigFile) -> None:
    """Make the file's values the defaults of every sub-command of ``context``."""
    _active[0] = config
    commands = getattr(context.command, "commands", {})
    context.default_map = {name: dict(config.values) for name in commands}


def current_config() -> ConfigFile:
    """Return the config loaded by the running command, or an empty one outside the CLI."""
    return _active[0]


def setting_value(name: str) -> Any:
    """Return a setting that no flag carries: env var, else config file, else default."""
    definition = BY_NAME[name]
    raw = os.environ.get(definition.env)
    if raw is not None:
        return raw.replace(",", " ").split() if definition.multiple else raw
    return current_config().get(name)
