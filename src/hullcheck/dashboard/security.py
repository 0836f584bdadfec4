"""Access control of the dashboard: loopback binding by default, a bearer token otherwise."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import string
from http.cookies import CookieError, SimpleCookie

from hullcheck.errors import ConfigurationError

TOKEN_ENV = "HULLCHECK_DASHBOARD_TOKEN"
COOKIE_NAME = "hullcheck_session"
MIN_TOKEN_LENGTH = 16
"""Shortest token accepted; ``secrets.token_urlsafe(32)`` gives 43 characters."""

_TOKEN_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
_TOKEN_HINT = (
    f"pass --token or set {TOKEN_ENV}; create one with "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        # A host name other than localhost may resolve to any interface.
        return False


def check_binding(host: str, token: str | None) -> None:
    """Raise ConfigurationError for a bad token, or a non-loopback host without a token."""
    if token is not None:
        validate_token(token)
        return
    if not is_loopback(host):
        shown = host or "all interfaces"
        raise ConfigurationError(
            f"cannot serve the dashboard on {shown} without a token: other machines "
            "could read the scan history",
            hint=f"{_TOKEN_HINT}, or bind to 127.0.0.1 with --host",
        )


def validate_token(token: str) -> None:
    """Raise ConfigurationError when ``token`` is too short or cannot travel in a header."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"the dashboard token has {len(token)} characters, fewer than the "
            f"{MIN_TOKEN_LENGTH} required",
            hint=_TOKEN_HINT,
        )
    if not set(token) <= _TOKEN_CHARACTERS:
        raise ConfigurationError(
            "the dashboard token contains whitespace or non-ASCII characters, which an "
            "Authorization header cannot carry",
            hint=_TOKEN_HINT,
        )


class TokenCheck:
    """Compare credentials of a request with the configured token in constant time.

    The session cookie contains an HMAC of the token, not the token itself, so a leaked
    cookie does not reveal the token used for /metrics and other clients.
    """

    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.session_value = hmac.new(
            self._token, b"hullcheck dashboard session", hashlib.sha256
        ).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def authorization_matches(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return self.token_matches(credentials.strip())

    def cookie_matches(self, header: str | None) -> bool:
        if not header:
            return False
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(header)
        except CookieError:
            return False
        morsel = cookies.get(COOKIE_NAME)
        if morsel is None:
            return False
        return hmac.compare_digest(morsel.value.encode(), self.session_value.encode())

    def session_cookie(self) -> str:
        """Return the Set-Cookie value that lets a browser in after ``?token=`` once."""
        # No Secure flag: the server speaks plain HTTP, and a TLS proxy may add it.
        return f"{COOKIE_NAME}={self.session_value}; HttpOnly; SameSite=Strict; Path=/"
