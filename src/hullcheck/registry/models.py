"""Registry check results: the remote manifest and the verdict for one image."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

MANIFEST_MEDIA_TYPES = (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
"""Accept header for manifest requests.

A registry returns 404 when the stored manifest's type is missing from Accept, so all four
types are always sent; the index types come first so a multi-arch tag resolves to the index
digest, which is what Docker stores in RepoDigests.
"""


class RateLimit(BaseModel):
    """The ``ratelimit-limit`` and ``ratelimit-remaining`` headers of one response."""

    model_config = ConfigDict(frozen=True)

    limit: int | None = None
    remaining: int | None = None
    window_seconds: int | None = None
    """The ``w=`` part of the header (21600 on Docker Hub)."""


class RemoteManifest(BaseModel):
    """The result of a manifest HEAD: the digest a pull of the tag would fetch."""

    model_config = ConfigDict(frozen=True)

    digest: str
    media_type: str | None = None
    rate_limit: RateLimit | None = None


class UpdateState(StrEnum):
    UP_TO_DATE = "up_to_date"
    UPDATE_AVAILABLE = "update_available"
    PINNED = "pinned"
    """A digest is written in the reference, so the tag alone does not decide the content."""
    LOCAL_BUILD = "local_build"
    CHECK_FAILED = "check_failed"


class CheckFailure(StrEnum):
    """Kind of check failure. The value is the label shown as ``check failed (<label>)``."""

    AUTH = "auth"
    RATE_LIMIT = "rate limit"
    NETWORK = "network"
    SERVER_ERROR = "registry error"
    NOT_FOUND = "not found"
    CLIENT_BUG = "client bug"
    PROTOCOL = "protocol"


class UpdateCheck(BaseModel):
    """The verdict for one image reference.

    A pinned reference keeps the state ``pinned`` even when looking up its tag failed;
    ``failure`` is then set and ``reason`` states what failed.
    """

    model_config = ConfigDict(frozen=True)

    image: str
    """The normalised reference, e.g. ``docker.io/library/nginx:latest``."""
    state: UpdateState
    reason: str
    remote_digest: str | None = None
    """Digest the tag resolves to in the registry; None when no request succeeded."""
    local_digests: tuple[str, ...] = ()
    """Local RepoDigests of the same repository, as ``sha256:...``."""
    media_type: str | None = None
    failure: CheckFailure | None = None
    skipped: bool = False
    """True when no request was sent, e.g. after Docker Hub returned 429 earlier in the run."""
    rate_limit: RateLimit | None = None
