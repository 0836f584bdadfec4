"""Registry credentials from Docker's ``config.json``, read through the docker SDK.

The SDK handles ``auths`` entries (base64 ``auth``, ``identitytoken``), ``credHelpers`` and
``credsStore``, running ``docker-credential-*`` helpers the way the Docker CLI does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.auth
import docker.errors

from hullcheck.registry.errors import RegistryAuthError

logger = logging.getLogger(__name__)

REDACTED = "***"


@dataclass(frozen=True)
class Credentials:
    """A username and password, or an identity (refresh) token from ``docker login``."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.password, self.identity_token) if value)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` with ``***`` before it is logged or raised."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _from_sdk_entry(entry: Mapping[str, Any]) -> Credentials | None:
    # The SDK returns lower-case keys for ``auths`` entries and capitalised keys for
    # entries read from a credential helper.
    identity_token = entry.get("IdentityToken") or entry.get("identitytoken")
    username = entry.get("username") or entry.get("Username")
    password = entry.get("password") or entry.get("Password")
    if identity_token:
        return Credentials(username=username, identity_token=identity_token)
    if username and password:
        return Credentials(username=username, password=password)
    return None


class CredentialStore:
    """Credential lookups by registry host, loading ``config.json`` on first use."""

    def __init__(self, config_dir: Path | None = None) -> None:
        self._config_file = str(config_dir / "config.json") if config_dir else None
        self._config: Any = None
        # Memoised per host because a credential helper is a subprocess per lookup.
        self._found: dict[str, Credentials | None] = {}

    def _load(self) -> Any:
        if self._config is None:
            try:
                self._config = docker.auth.load_config(config_path=self._config_file)
            except (docker.errors.DockerException, OSError, ValueError) as error:
                raise RegistryAuthError(
                    f"reading the Docker config file failed: {error}",
                    hint="fix or remove the invalid entry in config.json ($DOCKER_CONFIG)",
                ) from error
        return self._config

    def lookup(self, host: str) -> Credentials | None:
        """Credentials stored for ``host`` (``docker.io`` for Docker Hub), or None.

        Raises RegistryAuthError when a configured credential helper fails, as
        ``docker pull`` does, instead of silently going anonymous.
        """
        if host in self._found:
            return self._found[host]
        config = self._load()
        try:
            entry = docker.auth.resolve_authconfig(config, host)
        except docker.errors.DockerException as error:
            raise RegistryAuthError(
                f"the credential helper for {host} failed: {error}",
                hint=f"check the credHelpers/credsStore entry for {host} in config.json",
            ) from error
        credentials = _from_sdk_entry(entry) if entry else None
        self._found[host] = credentials
        logger.debug("credentials for %s: %s", host, "found" if credentials is not None else "none")
        return credentials
