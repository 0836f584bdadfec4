"""Exceptions of the registry package, one subclass per kind of failure."""

from __future__ import annotations

from hullcheck.errors import HullcheckError
from hullcheck.registry.models import CheckFailure


class RegistryError(HullcheckError):
    """A registry or token request failed. ``failure`` names the kind."""

    failure: CheckFailure = CheckFailure.PROTOCOL
    default_hint: str | None = None
    """Hint used when the raiser gives none."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or self.default_hint)


class RegistryAuthError(RegistryError):
    """The token endpoint or the registry rejected the request (401, 403) or credentials
    could not be read."""

    failure = CheckFailure.AUTH


class RegistryRateLimitError(RegistryError):
    """HTTP 429 that one wait for Retry-After did not resolve."""

    failure = CheckFailure.RATE_LIMIT
    default_hint = "run again later, or log in: logged-in clients usually get a higher limit"


class HubRateLimitedError(RegistryRateLimitError):
    """No request was sent because Docker Hub returned 429 earlier in this run."""


class RegistryUnavailableError(RegistryError):
    """Connection refused, timed out, or a TLS failure."""

    failure = CheckFailure.NETWORK


class RegistryServerError(RegistryError):
    """The registry or token endpoint responded with a 5xx status."""

    failure = CheckFailure.SERVER_ERROR
    default_hint = "the registry failed on its side, so run again later"


class ManifestNotFoundError(RegistryError):
    """HTTP 404 for a manifest: the tag or repository does not exist for this client."""

    failure = CheckFailure.NOT_FOUND


class ManifestMediaTypeError(RegistryError):
    """The registry rejected every media type in Accept: a client bug, not a missing tag."""

    failure = CheckFailure.CLIENT_BUG


class RegistryProtocolError(RegistryError):
    """A response that breaks the distribution spec (no digest header, bad challenge)."""

    failure = CheckFailure.PROTOCOL
