"""Errors of Compose discovery that callers tell apart from other DiscoveryErrors."""

from __future__ import annotations

from hullcheck.discovery.models import DiscoveryError


class MissingFileError(DiscoveryError):
    """A file that discovery needs does not exist: a Compose file, an env file or a project."""
