"""Compose variable interpolation: ``$VAR``, ``${VAR}``, defaults, required values, ``$$``.

The rules follow ``compose-go/template`` (the library behind Compose v2):

- ``${VAR:-default}`` and ``${VAR-default}``: the default when VAR is unset or empty
  (``:-``), or only when it is unset (``-``);
- ``${VAR:?message}`` and ``${VAR?message}``: an error when VAR is unset or empty, or
  only when it is unset;
- ``${VAR:+replacement}`` and ``${VAR+replacement}``: the replacement when VAR is set
  and not empty, or set at all; otherwise the empty string;
- the text after the operator is itself interpolated, so ``${A:-${B:-x}}`` works, and,
  as in compose-go, it is interpolated before the variable is looked up;
- ``$$`` is a literal ``$``; names match ``[_a-zA-Z][_a-zA-Z0-9]*``;
- an unset variable without a default becomes the empty string, with a warning.

A ``$`` followed by anything else is rejected with "Invalid interpolation format", as
docker-compose 1.29.2 does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hullcheck.discovery.models import DiscoveryError

_NAME_RE = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")

ValuePath = tuple[str | int, ...]
"""Location of a value inside a YAML document: mapping keys and list indexes."""


class InterpolationError(DiscoveryError):
    """A value that cannot be interpolated; ``text`` is the value as written."""

    def __init__(self, message: str, *, text: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.text = text


class InvalidInterpolationError(InterpolationError):
    """A ``$`` that starts no valid expression, or a malformed ``${...}``."""


class RequiredVariableError(InterpolationError):
    """A ``${VAR:?message}`` or ``${VAR?message}`` whose variable has no value."""

    def __init__(self, variable: str, reason: str, *, text: str) -> None:
        message = f"required variable {variable} is missing a value"
        if reason:
            message += f": {reason}"
        super().__init__(
            message,
            text=text,
            hint=f"set {variable} in the shell environment or in the project .env file",
        )
        self.variable = variable
        self.reason = reason


@dataclass
class Interpolator:
    """Substitute variables from ``variables`` and collect the names that were unset.

    ``missing`` lists, in order of first use, the variables that were used without a
    value or default and became the empty string; Compose warns about each of them.
    """

    variables: Mapping[str, str]
    missing: list[str] = field(default_factory=list)

    def substitute(self, text: str) -> str:
        """Interpolate one string.

        Raises InvalidInterpolationError or RequiredVariableError; both name ``text``.
        """
        return self._substitute(text, text)

    def interpolate(
        self,
        value: Any,
        *,
        path: ValuePath = (),
        on_error: Callable[[ValuePath, InterpolationError], Any] | None = None,
    ) -> Any:
        """Interpolate every string inside ``value`` and return a new structure.

        Mapping keys are kept as written. Without ``on_error`` the first error is
        raised. With it, each failing string is replaced by what ``on_error`` returns
        for the string's path and error, so one bad value does not hide the others.
        """
        if isinstance(value, str):
            if on_error is None:
                return self.substitute(value)
            try:
                return self.substitute(value)
            except InterpolationError as error:
                return on_error(path, error)
        if isinstance(value, Mapping):
            return {
                key: self.interpolate(item, path=(*path, key), on_error=on_error)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [
                self.interpolate(item, path=(*path, index), on_error=on_error)
                for index, item in enumerate(value)
            ]
        return value

    def _substitute(self, text: str, whole: str) -> str:
        parts: list[str] = []
        position = 0
        while True:
            dollar = text.find("$", position)
            if dollar < 0:
                parts.append(text[position:])
                return "".join(parts)
            parts.append(text[position:dollar])
            following = text[dollar + 1 : dollar + 2]
            if following == "$":
                parts.append("$")
                position = dollar + 2
            elif following == "{":
                closing = _find_closing_brace(text, dollar + 2)
                if closing < 0:
                    raise _invalid(whole, "a '${' has no closing '}'")
                parts.append(self._braced(text[dollar + 2 : closing], whole))
                position = closing + 1
            else:
                name = _NAME_RE.match(text, dollar + 1)
                if name is None:
                    raise _invalid(
                        whole,
                        "a '$' must be followed by a variable name, '{' or another '$'",
                    )
                parts.append(self._lookup(name.group()))
                position = name.end()

    def _braced(self, expression: str, whole: str) -> str:
        name_match = _NAME_RE.match(expression)
        if name_match is None:
            raise _invalid(whole, f"'${{{expression}}}' does not start with a variable name")
        name = name_match.group()
        rest = expression[name_match.end() :]
        if not rest:
            return self._lookup(name)

        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise _invalid(
                whole,
                f"'${{{expression}}}' has an unknown operator; use one of " + ", ".join(_OPERATORS),
            )
        argument = self._substitute(rest[len(operator) :], whole)
        value = self.variables.get(name)

        if operator == ":-":
            return value if value else argument
        if operator == "-":
            return value if value is not None else argument
        if operator == ":+":
            return argument if value else ""
        if operator == "+":
            return argument if value is not None else ""
        if value is None or (operator == ":?" and not value):
            raise RequiredVariableError(name, argument, text=whole)
        return value

    def _lookup(self, name: str) -> str:
        value = self.variables.get(name)
        if value is None:
            if name not in self.missing:
                self.missing.append(name)
            return ""
        return value


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Interpolate one string; see ``Interpolator.substitute``."""
    return Interpolator(variables).substitute(text)


def _find_closing_brace(text: str, start: int) -> int:
    """Return the index of the ``}`` that closes a ``${`` whose body begins at ``start``."""
    depth = 1
    for index in range(start, len(text)):
        character = text[index]
        if character == "{":
            depth += 1
        elif character == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _invalid(text: str, reason: str) -> InvalidInterpolationError:
    # NOTE: docker-compose 1.29.2 rejects a lone '$' like this. Recent Compose v2
    # releases (compose-go, whose pattern only reports '${' errors) keep a lone '$'
    # unchanged instead, so a file that works with v2 can fail here.
    return InvalidInterpolationError(
        f'Invalid interpolation format in "{text}": {reason}',
        text=text,
        hint="write '$$' for a literal '$'",
    )
