"""Registry authentication: Bearer tokens from a challenge's realm, and Basic credentials.

Tokens are cached per (realm, service, scope) until shortly before ``expires_in`` ends.
Credentials go only to the host they are stored for: a realm on another host than the
registry gets them only when stored for the realm's own host, or through
``RegistrySettings.realm_credential_hosts`` (Docker Hub's ``auth.docker.io``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import requests

from hullcheck.registry.challenge import Challenge, default_scope, token_url
from hullcheck.registry.credentials import Credentials, CredentialStore
from hullcheck.registry.errors import (
    RegistryAuthError,
    RegistryProtocolError,
    RegistryRateLimitError,
    RegistryServerError,
)
from hullcheck.registry.settings import RegistrySettings
from hullcheck.registry.transport import Transport, error_detail

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 60
"""Seconds a token lives when the response has no ``expires_in`` (distribution token spec)."""
_EXPIRY_MARGIN = 10.0
_CLIENT_ID = "hullcheck"


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    expires_at: float


def _realm_host(realm: str) -> str:
    """``host:port`` of a realm URL, without any user information."""
    return urlsplit(realm).netloc.rpartition("@")[2]


def choose_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Pick Bearer over Basic, as Docker does, and ignore other schemes."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


class Authenticator:
    """Builds ``Authorization`` values and remembers each registry host's challenge."""

    def __init__(
        self,
        transport: Transport,
        credentials: CredentialStore,
        settings: RegistrySettings,
        clock: Callable[[], float],
    ) -> None:
        self._transport = transport
        self._credentials = credentials
        self._settings = settings
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._challenges: dict[str, Challenge] = {}
        self._secrets: set[str] = set()

    @property
    def secrets(self) -> frozenset[str]:
        """Every token and password seen, for redaction."""
        return frozenset(self._secrets)

    def remember(self, host: str, challenge: Challenge) -> None:
        """Keep the challenge without its scope, so later requests to ``host`` for other
        repositories can authenticate before the first 401."""
        params = {key: value for key, value in challenge.params.items() if key != "scope"}
        self._challenges[host] = replace(challenge, params=params)

    def known_challenge(self, host: str) -> Challenge | None:
        return self._challenges.get(host)

    def authorization(
        self, challenge: Challenge, *, registry: str, repository: str, refresh: bool = False
    ) -> str:
        """Build the ``Authorization`` value for ``challenge``.

        ``registry`` is the name credentials are stored under for Basic auth (``docker.io``
        for Docker Hub). ``refresh`` skips the token cache, after a 401 to a cached token.
        """
        if challenge.scheme == "basic":
            credentials = self._credentials.lookup(registry)
            if credentials is None or credentials.password is None:
                raise RegistryAuthError(
                    f"{registry} requires a username and password (Basic auth), "
                    "and none is stored for it",
                    hint=f"run `docker login {registry}`",
                )
            self._secrets.add(credentials.password)
            pair = f"{credentials.username}:{credentials.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        if challenge.scheme == "bearer":
            return "Bearer " + self._bearer_token(challenge, repository, refresh=refresh)
        raise RegistryProtocolError(f"unsupported authentication scheme {challenge.scheme!r}")

    def _bearer_token(self, challenge: Challenge, repository: str, *, refresh: bool) -> str:
        realm = self._checked_realm(challenge)
        service = challenge.service or ""
        scope = challenge.scope or default_scope(repository)
        key = (realm, service, scope)
        cached = self._tokens.get(key)
        if cached is not None and not refresh and self._clock() < cached.expires_at:
            return cached.value
        if cached is not None:
            logger.debug(
                "token for %s from %s expired or was rejected; fetching a new one",
                scope,
                _realm_host(realm),
            )
        token = self._fetch_token(realm, service, scope)
        self._tokens[key] = token
        return token.value

    def _checked_realm(self, challenge: Challenge) -> str:
        realm = challenge.realm
        if not realm:
            raise RegistryProtocolError(
                "the registry sent a Bearer challenge without a realm",
                hint="check the registry's token authentication settings",
            )
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryProtocolError(f"invalid token realm {realm!r}: not an HTTP(S) URL")
        if parts.scheme == "http" and not self._settings.is_insecure(_realm_host(realm)):
            raise RegistryProtocolError(
                f"token realm {realm!r} uses plain HTTP",
                hint=f"add {_realm_host(realm)} to insecure_registries if that is intended",
            )
        return realm

    def _fetch_token(self, realm: str, service: str, scope: str) -> _Token:
        realm_host = _realm_host(realm)
        credential_host = self._settings.credential_host(realm_host)
        credentials = self._credentials.lookup(credential_host)
        if credentials is not None:
            self._secrets.update(credentials.secrets)
        request_label = f"token request to {realm_host} for {scope}"
        started = self._clock()
        response = self._request_token(realm, service, scope, credentials, request_label)
        with response:
            self._raise_for_token_status(response, request_label, credential_host, credentials)
            value, lifetime = self._parse_token(response, request_label)
        self._secrets.add(value)
        logger.debug("%s: token valid for %g s", request_label, lifetime)
        margin = min(_EXPIRY_MARGIN, lifetime / 2)
        return _Token(value, started + lifetime - margin)

    def _request_token(
        self,
        realm: str,
        service: str,
        scope: str,
        credentials: Credentials | None,
        request_label: str,
    ) -> requests.Response:
        query = [("service", service)] if service else []
        query += [("scope", item) for item in scope.split()]
        if credentials is not None and credentials.identity_token:
            # An identity token from `docker login` is an OAuth2 refresh token: Docker
            # exchanges it with a POST to the realm.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credentials.identity_token,
                "client_id": _CLIENT_ID,
                "service": service,
                "scope": scope,
            }
            return self._transport.send(
                "POST", realm, request_label=request_label, headers={}, data=form
            )
        if credentials is not None and credentials.username and credentials.password:
            url = token_url(realm, [("account", credentials.username), *query])
            auth = (credentials.username, credentials.password)
            return self._transport.send(
                "GET", url, request_label=request_label, headers={}, auth=auth
            )
        return self._transport.send(
            "GET", token_url(realm, query), request_label=request_label, headers={}
        )

    def _raise_for_token_status(
        self,
        response: requests.Response,
        request_label: str,
        credential_host: str,
        credentials: Credentials | None,
    ) -> None:
        status = response.status_code
        if status == 200:
            return
        detail = error_detail(response, self._secrets)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            identity = (
                f"the credentials of {credentials.username}" if credentials else "anonymous access"
            )
            hint = (
                f"check the credentials stored for {credential_host}"
                if credentials
                else f"run `docker login {credential_host}` if the image is private"
            )
            raise RegistryAuthError(
                f"{request_label}: HTTP {status}, {identity} rejected{suffix}", hint=hint
            )
        if status == 429:
            raise RegistryRateLimitError(f"{request_label}: HTTP 429 Too Many Requests{suffix}")
        if status >= 500:
            raise RegistryServerError(f"{request_label}: HTTP {status}{suffix}")
        raise RegistryProtocolError(f"{request_label}: unexpected HTTP {status}{suffix}")

    @staticmethod
    def _parse_token(response: requests.Response, request_label: str) -> tuple[str, float]:
        """Read ``token`` (or ``access_token``) and its lifetime in seconds (``expires_in``)."""
        try:
            data = response.json()
        except ValueError as error:
            raise RegistryProtocolError(f"{request_label}: the response is not JSON") from error
        value = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryProtocolError(f"{request_label}: the response has no token")
        lifetime = data.get("expires_in")
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return value, float(lifetime)
