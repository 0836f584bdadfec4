"""Compose interpolation: operators, nesting, escaping, errors and unset variables."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hullcheck.discovery.interpolation import (
    InterpolationError,
    Interpolator,
    InvalidInterpolationError,
    RequiredVariableError,
    substitute,
)
from hullcheck.discovery.models import DiscoveryError

VARIABLES = {"SET": "value", "EMPTY": "", "APP_TAG": "2.3.1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("$SET-suffix", "value-suffix"),
        ("${SET}suffix", "valuesuffix"),
        ("$set_lower", ""),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${SET:-default}", "value"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${SET-default}", "value"),
        ("${SET:+replacement}", "replacement"),
        ("${EMPTY:+replacement}", ""),
        ("${UNSET:+replacement}", ""),
        ("${SET+replacement}", "replacement"),
        ("${EMPTY+replacement}", "replacement"),
        ("${UNSET+replacement}", ""),
        ("${SET:?message}", "value"),
        ("${SET?message}", "value"),
        ("${EMPTY?message}", ""),
        ("${UNSET:-/non:-alphanumeric}", "/non:-alphanumeric"),
        ("${UNSET:-a}}", "a}"),
        ("$$", "$"),
        ("$${SET}", "${SET}"),
        ("$$SET", "$SET"),
        ("cost is $$5", "cost is $5"),
        ("^\\d+$$", "^\\d+$"),
    ],
)
def test_operators(text: str, expected: str) -> None:
    assert substitute(text, VARIABLES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-$SET}", "value"),
        ("${UNSET-${SET} ${SET}}", "value value"),
        ("${TAG:-${APP_TAG:-1}}", "2.3.1"),
        ("${TAG:-${OTHER:-1}}", "1"),
        ("${A:-${B:-${C:-deep}}}", "deep"),
        ("${SET:+${APP_TAG}}", "2.3.1"),
        ("${UNSET:-$${literal}}", "${literal}"),
        (
            "${REGISTRY:-ghcr.io}/example/${NAME:-tool}:${TAG:-${APP_TAG:-1}}",
            "ghcr.io/example/tool:2.3.1",
        ),
    ],
)
def test_nested_defaults(text: str, expected: str) -> None:
    assert substitute(text, VARIABLES) == expected


@pytest.mark.parametrize(
    ("text", "variable", "message"),
    [
        ("${UNSET:?secret key required}", "UNSET", "secret key required"),
        ("${EMPTY:?must not be empty}", "EMPTY", "must not be empty"),
        ("${UNSET?must be set}", "UNSET", "must be set"),
        ("${UNSET:?}", "UNSET", ""),
        ("${UNSET:?needs ${SET}}", "UNSET", "needs value"),
        ("prefix-${UNSET:?x}-suffix", "UNSET", "x"),
    ],
)
def test_required_variable_error(text: str, variable: str, message: str) -> None:
    with pytest.raises(RequiredVariableError) as caught:
        substitute(text, VARIABLES)

    assert caught.value.variable == variable
    assert caught.value.reason == message
    assert caught.value.text == text
    assert variable in str(caught.value)
    assert isinstance(caught.value, DiscoveryError)


def test_required_error_inside_unused_default() -> None:
    # compose-go interpolates the text after the operator before it looks at the variable.
    with pytest.raises(RequiredVariableError) as caught:
        substitute("${SET:-${UNSET:?inner}}", VARIABLES)

    assert caught.value.variable == "UNSET"


@pytest.mark.parametrize(
    "text",
    [
        "^\\d+\\.\\d+$",
        "cost is $5",
        "a $ b",
        "$",
        "$1",
        "$-",
        "${",
        "${}",
        "${ SET}",
        "${SET }",
        "${SET!}",
        "${SET:}",
        "${SET:-unclosed",
        "${1ABC}",
    ],
)
def test_invalid_format_rejected(text: str) -> None:
    with pytest.raises(InvalidInterpolationError) as caught:
        substitute(text, VARIABLES)

    assert "Invalid interpolation format" in caught.value.message
    assert f'"{text}"' in caught.value.message
    assert caught.value.text == text
    assert caught.value.hint is not None
    assert "$$" in caught.value.hint


def test_unset_variable_collected_once() -> None:
    interpolator = Interpolator(VARIABLES)

    result = interpolator.substitute("$MISSING/${MISSING}/${OTHER}/${DEFAULTED:-x}")

    assert result == "///x"
    assert interpolator.missing == ["MISSING", "OTHER"]


def test_escaped_text_not_reported_missing() -> None:
    interpolator = Interpolator({})

    result = interpolator.substitute("pg_isready -d $${POSTGRES_DB} -U $${POSTGRES_USER}")

    assert result == "pg_isready -d ${POSTGRES_DB} -U ${POSTGRES_USER}"
    assert interpolator.missing == []


def test_tree_values_interpolated_keys_kept() -> None:
    data: dict[str, Any] = {
        "${SET}": "${SET}",
        "list": ["$SET", 1, None, True, {"nested": "${APP_TAG}"}],
    }

    result = Interpolator(VARIABLES).interpolate(data)

    assert result == {"${SET}": "value", "list": ["value", 1, None, True, {"nested": "2.3.1"}]}
    assert data["${SET}"] == "${SET}"
    assert data["list"][0] == "$SET"


def test_tree_error_raises_without_handler() -> None:
    with pytest.raises(RequiredVariableError):
        Interpolator({}).interpolate({"a": ["ok", "${X:?needed}"]})


def test_tree_errors_reported_with_paths() -> None:
    seen: list[tuple[tuple[str | int, ...], InterpolationError]] = []

    def record(path: tuple[str | int, ...], error: InterpolationError) -> str:
        seen.append((path, error))
        return "<failed>"

    result = Interpolator({}).interpolate(
        {"a": ["ok", "${X:?needed}"], "b": "lone $ sign"}, path=("root",), on_error=record
    )

    assert result == {"a": ["ok", "<failed>"], "b": "<failed>"}
    assert [path for path, _ in seen] == [("root", "a", 1), ("root", "b")]
    assert isinstance(seen[0][1], RequiredVariableError)
    assert isinstance(seen[1][1], InvalidInterpolationError)


# Property tests.

_no_dollar = st.text().filter(lambda text: "$" not in text)
_plain = st.text(st.characters(blacklist_characters="${}"), max_size=30)
_names = st.from_regex(r"\A[_A-Za-z][_A-Za-z0-9]{0,10}\Z")


@given(_no_dollar, st.dictionaries(_names, st.text(max_size=5)))
def test_text_without_dollar_unchanged(text: str, variables: dict[str, str]) -> None:
    assert substitute(text, variables) == text


@given(st.text(), st.dictionaries(_names, st.text(max_size=5)))
def test_escaped_text_round_trips(text: str, variables: dict[str, str]) -> None:
    interpolator = Interpolator(variables)

    assert interpolator.substitute(text.replace("$", "$$")) == text
    assert interpolator.missing == []


@given(_names, _plain, st.sampled_from([None, ""]))
def test_soft_default_when_unset_or_empty(name: str, default: str, value: str | None) -> None:
    variables = {} if value is None else {name: value}

    assert substitute(f"${{{name}:-{default}}}", variables) == default


@given(_names, _plain)
def test_hard_default_keeps_empty(name: str, default: str) -> None:
    assert substitute(f"${{{name}-{default}}}", {name: ""}) == ""
    assert substitute(f"${{{name}-{default}}}", {}) == default


@given(_names, _plain, st.text(st.characters(blacklist_characters="$"), min_size=1, max_size=8))
def test_set_value_beats_defaults(name: str, default: str, value: str) -> None:
    variables = {name: value}

    assert substitute(f"${{{name}:-{default}}}", variables) == value
    assert substitute(f"${{{name}-{default}}}", variables) == value
