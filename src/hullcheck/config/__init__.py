"""Settings: one definition each, read from flags, ``HULLCHECK_*`` variables and a TOML file."""

from hullcheck.config.loader import ConfigFile, current_config, load_config_file, setting_value
from hullcheck.config.settings import BY_NAME, SETTINGS, Setting, setting

__all__ = [
    "BY_NAME",
    "SETTINGS",
    "ConfigFile",
    "Setting",
    "current_config",
    "load_config_file",
    "setting",
    "setting_value",
]
