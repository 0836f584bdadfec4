"""Directory lookup for hullcheck's files, following the XDG Base Directory specification.

Every function returns an absolute path and, unless ``create=False``, creates the directory
with mode 0700 so that scan history and reports are readable only by their owner. An existing
directory named by ``$HULLCHECK_DATA_DIR`` keeps its mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hullcheck.errors import ConfigurationError

APP_NAME = "hullcheck"
DATA_DIR_ENV = "HULLCHECK_DATA_DIR"

_PRIVATE_DIR_MODE = 0o700
_DATA_HINT = f"set {DATA_DIR_ENV} to a writable directory"


class DirectoryError(ConfigurationError):
    """A hullcheck directory cannot be created or written."""


def data_dir(*, create: bool = True) -> Path:
    """Return the data directory that contains the history database and reports.

    ``$HULLCHECK_DATA_DIR`` wins, then ``$XDG_DATA_HOME/hullcheck``, then
    ``~/.local/share/hullcheck``.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        # The user picked this directory, so an existing one keeps the mode they gave it.
        path = Path(override).expanduser().absolute()
        return _prepare(path, create=create, tighten=False, hint=_DATA_HINT)
    path = _xdg_base("XDG_DATA_HOME", ".local/share", hint=_DATA_HINT) / APP_NAME
    return _prepare(path, create=create, tighten=True, hint=_DATA_HINT)


def reports_dir(*, create: bool = True) -> Path:
    """Return ``data_dir()/reports``, where saved reports go."""
    path = data_dir(create=create) / "reports"
    return _prepare(path, create=create, tighten=True, hint=_DATA_HINT)


def cache_dir(*, create: bool = True) -> Path:
    """Return ``$XDG_CACHE_HOME/hullcheck`` (default ``~/.cache/hullcheck``)."""
    hint = "set XDG_CACHE_HOME to a writable directory"
    path = _xdg_base("XDG_CACHE_HOME", ".cache", hint=hint) / APP_NAME
    return _prepare(path, create=create, tighten=True, hint=hint)


def config_dir(*, create: bool = True) -> Path:
    """Return ``$XDG_CONFIG_HOME/hullcheck`` (default ``~/.config/hullcheck``)."""
    hint = "set XDG_CONFIG_HOME to a writable directory"
    path = _xdg_base("XDG_CONFIG_HOME", ".config", hint=hint) / APP_NAME
    return _prepare(path, create=create, tighten=True, hint=hint)


def state_dir(*, create: bool = True) -> Path:
    """Return ``$XDG_STATE_HOME/hullcheck`` (default ``~/.local/state/hullcheck``) for logs."""
    hint = "set XDG_STATE_HOME to a writable directory"
    path = _xdg_base("XDG_STATE_HOME", ".local/state", hint=hint) / APP_NAME
    return _prepare(path, create=create, tighten=True, hint=hint)


def _xdg_base(variable: str, fallback: str, *, hint: str) -> Path:
    value = os.environ.get(variable, "")
    # The specification requires ignoring relative values, so a stray "." scatters no files.
    if value and os.path.isabs(value):
        return Path(value)
    try:
        home = Path.home()
    except RuntimeError as error:
        raise DirectoryError(
            f"Cannot find the home directory to place {variable}'s default: {error}",
            hint=hint,
        ) from error
    return home / fallback


def _prepare(path: Path, *, create: bool, tighten: bool, hint: str) -> Path:
    if not create:
        return path
    try:
        existed = path.is_dir()
        path.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        # mkdir's mode is filtered through the umask, and an older hullcheck may have left
        # looser bits, so set the exact mode on directories that are ours.
        if not existed or tighten:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode != _PRIVATE_DIR_MODE:
                path.chmod(_PRIVATE_DIR_MODE)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DirectoryError(f"Cannot create the directory {path}: {reason}", hint=hint) from error
    if not os.access(path, os.W_OK | os.X_OK):
        raise DirectoryError(f"The directory {path} is not writable", hint=hint)
    return path
