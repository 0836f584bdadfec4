"""Exceptions of the registry package, one subclass per kind of failure."""

from __future__ import annotations

from hullcheck.errors import HullcheckError
from hullcheck.registry.models import CheckFailure


class RegistryError(HullcheckError):
    """A registry or token request failed; ``failure`` tells the kind."""

    failure: CheckFailure = CheckFailure.PROTOCOL


class RegistryAuthError(RegistryError):
    """The token endpoint or the registry rejected the request (401, 403) or credentials
    could not be read."""

    failure = CheckFailure.AUTH


class RegistryRateLimitError(RegistryError):
    """HTTP 429 that one wait for Retry-After did not resolve."""

    failure = CheckFailure.RATE_LIMIT


class HubRateLimitedError(RegistryRateLimitError):
    """No request was sent because Docker Hub answered 429 earlier in this run."""


class RegistryUnavailableError(RegistryError):
    """Connection refused, timed out, or a TLS failure."""

    failure = CheckFailure.NETWORK


class RegistryServerError(RegistryError):
    """The registry or token endpoint answered with a 5xx status."""

    failure = CheckFailure.SERVER_ERROR


class ManifestNotFoundError(RegistryError):
    """HTTP 404 for a manifest: the tag or repository does not exist for this client."""

    failure = CheckFailure.NOT_FOUND


class ManifestMediaTypeError(RegistryError):
    """The registry refused every media type in Accept: a client bug, not a missing tag."""

    failure = CheckFailure.CLIENT_BUG


class RegistryProtocolError(RegistryError):
    """A response that breaks the distribution spec (no digest header, bad challenge)."""

    failure = CheckFailure.PROTOCOL
