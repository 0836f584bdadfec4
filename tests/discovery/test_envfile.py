"""The .env file that feeds interpolation: expansion order, quoting, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullcheck.discovery.envfile import read_env_file
from hullcheck.discovery.interpolation import InterpolationError, RequiredVariableError
from hullcheck.discovery.models import DiscoveryError


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_values_expand_from_earlier_lines(tmp_path: Path) -> None:
    path = write_env(tmp_path, 'A=1\nB=${A}-x\nC="${A} quoted"\nD=${LATER:-none}\nLATER=2\n')

    values = read_env_file(path, {})

    assert values == {"A": "1", "B": "1-x", "C": "1 quoted", "D": "none", "LATER": "2"}


def test_shell_wins_over_file(tmp_path: Path) -> None:
    path = write_env(tmp_path, "A=1\nB=${A}-x\nC=${FROM_SHELL}\n")

    values = read_env_file(path, {"A": "9", "FROM_SHELL": "s"})

    assert values["A"] == "9"
    assert values["B"] == "9-x"
    assert values["C"] == "s"


def test_single_quotes_stay_literal(tmp_path: Path) -> None:
    path = write_env(tmp_path, "A=1\nD='${A} single'\nexport E='$A'\n")

    values = read_env_file(path, {})

    assert values["D"] == "${A} single"
    assert values["E"] == "$A"


def test_comments_export_and_bare_keys(tmp_path: Path) -> None:
    path = write_env(tmp_path, "# comment\nexport F=f # trailing\nG\nH\n\nAPP_TAG=\n")

    values = read_env_file(path, {"G": "from shell"})

    assert values == {"F": "f", "G": "from shell", "APP_TAG": ""}


def test_unset_reference_collected(tmp_path: Path) -> None:
    path = write_env(tmp_path, "H=${MISSING}\nI=$$literal\n")
    missing: list[str] = []

    values = read_env_file(path, {}, missing=missing)

    assert values == {"H": "", "I": "$literal"}
    assert missing == ["MISSING"]


def test_expansion_error_names_file_and_key(tmp_path: Path) -> None:
    path = write_env(tmp_path, "OK=1\nBAD=${NEEDED:?set it}\n")

    with pytest.raises(InterpolationError) as caught:
        read_env_file(path, {})

    assert str(path) in caught.value.message
    assert "BAD" in caught.value.message
    assert "NEEDED" in caught.value.message


def test_expansion_error_handler_skips_value(tmp_path: Path) -> None:
    path = write_env(tmp_path, "OK=1\nBAD=${NEEDED:?set it}\nAFTER=2\n")
    errors: list[tuple[str, InterpolationError]] = []

    values = read_env_file(path, {}, on_error=lambda key, error: errors.append((key, error)))

    assert values == {"OK": "1", "AFTER": "2"}
    assert [key for key, _ in errors] == ["BAD"]
    assert isinstance(errors[0][1], RequiredVariableError)


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.env"

    with pytest.raises(DiscoveryError) as caught:
        read_env_file(path, {})

    assert str(path) in caught.value.message
    assert "not found" in caught.value.message
