"""XDG directory lookup and creation in hullcheck.paths."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from hullcheck import paths
from hullcheck.errors import HullcheckError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in (
        "HULLCHECK_DATA_DIR",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_data_dir_override_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "custom"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    assert paths.data_dir() == tmp_path / "custom"
    assert (tmp_path / "custom").is_dir()
    assert not (tmp_path / "xdg").exists()


def test_data_dir_uses_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    assert paths.data_dir() == tmp_path / "xdg" / "hullcheck"


def test_data_dir_defaults_under_home(tmp_path: Path) -> None:
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "hullcheck"


def test_relative_xdg_value_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")

    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "hullcheck"


@pytest.mark.parametrize(
    ("function", "variable", "fallback"),
    [
        (paths.cache_dir, "XDG_CACHE_HOME", ".cache"),
        (paths.config_dir, "XDG_CONFIG_HOME", ".config"),
        (paths.state_dir, "XDG_STATE_HOME", ".local/state"),
    ],
)
def test_other_xdg_dirs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    function: Callable[[], Path],
    variable: str,
    fallback: str,
) -> None:
    assert function() == tmp_path / "home" / fallback / "hullcheck"

    monkeypatch.setenv(variable, str(tmp_path / "base"))
    assert function() == tmp_path / "base" / "hullcheck"


def test_reports_dir_inside_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "data"))

    reports = paths.reports_dir()

    assert reports == tmp_path / "data" / "reports"
    assert _mode(reports) == 0o700


def test_created_dirs_are_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    assert _mode(paths.data_dir()) == 0o700


def test_override_dir_created_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "new"))

    assert _mode(paths.data_dir()) == 0o700


def test_loose_own_dir_is_tightened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own = tmp_path / "xdg" / "hullcheck"
    own.mkdir(parents=True)
    own.chmod(0o755)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    paths.data_dir()

    assert _mode(own) == 0o700


def test_existing_override_dir_keeps_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    chosen.chmod(0o750)
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(chosen))

    paths.data_dir()

    assert _mode(chosen) == 0o750


def test_create_false_makes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(tmp_path / "absent"))

    assert paths.data_dir(create=False) == tmp_path / "absent"
    assert paths.reports_dir(create=False) == tmp_path / "absent" / "reports"
    assert not (tmp_path / "absent").exists()


def test_file_in_the_way_names_path_and_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(blocker / "data"))

    with pytest.raises(paths.DirectoryError) as caught:
        paths.data_dir()

    assert isinstance(caught.value, HullcheckError)
    assert str(blocker / "data") in caught.value.message
    assert caught.value.hint is not None
    assert "HULLCHECK_DATA_DIR" in caught.value.hint
