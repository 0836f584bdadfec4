"""``WWW-Authenticate`` parsing and the token request URL built from a Bearer challenge."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME = re.compile(rf"\s*({_TOKEN})")
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^,\s]*)\s*,?")
_SEPARATORS = re.compile(r"[\s,]*")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header, with a lower-case ``scheme``."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Split a header into challenges (RFC 9110 section 11.6.1).

    Quoted values may contain commas, as in ``scope="repository:a/b:pull,push"``.
    Parameter names are lower-cased, and values keep their case.
    """
    challenges: list[Challenge] = []
    position = _SEPARATORS.match(header, 0)
    index = position.end() if position else 0
    while index < len(header):
        scheme_match = _SCHEME.match(header, index)
        if scheme_match is None:
            break
        index = scheme_match.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(header, index)
            if param is None:
                break
            value = param.group(2)
            if value.startswith('"'):
                value = _ESCAPE.sub(r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            index = param.end()
        challenges.append(Challenge(scheme_match.group(1).lower(), params))
        separators = _SEPARATORS.match(header, index)
        index = separators.end() if separators else index
    return challenges


def default_scope(repository: str) -> str:
    """Return the pull scope Docker requests when a challenge names none."""
    return f"repository:{repository}:pull"


def token_url(realm: str, query: Sequence[tuple[str, str]]) -> str:
    """Append ``query`` to the realm URL exactly as given, keeping any query it has.

    ``https://ghcr.io/token?x=1`` becomes ``https://ghcr.io/token?x=1&service=...``.
    Values are percent-encoded (``repository%3Aexample%2Ftool%3Apull``).
    """
    parts = urlsplit(realm)
    extra = urlencode(list(query))
    existing = parts.query.rstrip("&")
    combined = f"{existing}&{extra}" if existing and extra else existing or extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, combined, ""))
