"""Registry checks: the digest a tag resolves to, fetched with manifest HEAD requests only."""

from hullcheck.registry.check import UpdateChecker, matching_digests, split_repo_digest
from hullcheck.registry.client import HUB_RATE_LIMIT_REASON, RegistryClient
from hullcheck.registry.credentials import Credentials, CredentialStore
from hullcheck.registry.errors import (
    HubRateLimitedError,
    ManifestMediaTypeError,
    ManifestNotFoundError,
    RegistryAuthError,
    RegistryError,
    RegistryProtocolError,
    RegistryRateLimitError,
    RegistryServerError,
    RegistryUnavailableError,
)
from hullcheck.registry.models import (
    MANIFEST_ACCEPT,
    CheckFailure,
    RateLimit,
    RemoteManifest,
    UpdateCheck,
    UpdateState,
)
from hullcheck.registry.settings import RegistrySettings

__all__ = [
    "HUB_RATE_LIMIT_REASON",
    "MANIFEST_ACCEPT",
    "CheckFailure",
    "CredentialStore",
    "Credentials",
    "HubRateLimitedError",
    "ManifestMediaTypeError",
    "ManifestNotFoundError",
    "RateLimit",
    "RegistryAuthError",
    "RegistryClient",
    "RegistryError",
    "RegistryProtocolError",
    "RegistryRateLimitError",
    "RegistryServerError",
    "RegistrySettings",
    "RegistryUnavailableError",
    "RemoteManifest",
    "UpdateCheck",
    "UpdateChecker",
    "UpdateState",
    "matching_digests",
    "split_repo_digest",
]
