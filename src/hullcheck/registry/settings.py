"""Settings of the registry client and the host rules derived from them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from hullcheck.discovery.models import DOCKER_HUB, DOCKER_HUB_API_HOST

DOCKER_HUB_REALM_HOST = "auth.docker.io"


@dataclass(frozen=True)
class RegistrySettings:
    """Registry client settings. The defaults need no configuration."""

    insecure_registries: frozenset[str] = frozenset()
    """Hosts (``host`` or ``host:port``) reached over plain HTTP, besides loopback hosts."""
    hub_hosts: frozenset[str] = frozenset({DOCKER_HUB_API_HOST})
    """API hosts treated as Docker Hub: after one 429 no further request goes to them."""
    realm_credential_hosts: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({DOCKER_HUB_REALM_HOST: DOCKER_HUB})
    )
    """Token realm host -> registry whose stored credentials that realm may receive.

    Without an entry a realm only receives credentials stored for its own host.
    """
    retry_after_max_seconds: float = 60.0
    """Longest Retry-After wait honoured after a 429. A longer request fails the check at once."""
    timeout_seconds: float = 30.0
    """Connect and read timeout of each HTTP request."""
    rate_limit_warning_at: int = 10
    """Warn when ``ratelimit-remaining`` drops to this value or below."""
    docker_config: Path | None = None
    """Directory containing ``config.json``. None reads ``$DOCKER_CONFIG`` or ``~/.docker``."""
    user_agent: str = "hullcheck"

    def is_insecure(self, host: str) -> bool:
        """True for hosts reached over plain HTTP: loopback, as in Docker, or listed ones."""
        return host in self.insecure_registries or is_loopback(host)

    def base_url(self, host: str) -> str:
        scheme = "http" if self.is_insecure(host) else "https"
        return f"{scheme}://{host}"

    def credential_host(self, realm_host: str) -> str:
        return self.realm_credential_hosts.get(realm_host, realm_host)


def hostname(host: str) -> str:
    """Strip the port and IPv6 brackets: ``[::1]:5000`` -> ``::1``."""
    return urlsplit(f"//{host}").hostname or host


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    name = hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
