"""Results of an update run: one action per service, with the reason and the finding delta."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Policy(StrEnum):
    """Rule for an update that brings new risk."""

    AVAILABILITY = "availability"
    """Update anyway; escalate in the report when new known-exploited or fixable CRITICAL findings arrive."""
    STRICT = "strict"
    """Hold an update that brings a new CRITICAL or known-exploited finding."""
    NOTIFY_ONLY = "notify-only"
    """Never deploy: report what an update would change."""


class UpdateAction(StrEnum):
    UPDATED = "updated"
    HELD = "held"
    ROLLED_BACK = "rolled_back"
    UP_TO_DATE = "up_to_date"
    PINNED = "pinned"
    LOCAL_BUILD = "local_build"
    FAILED = "failed"
    SKIPPED = "skipped"


class FindingDelta(BaseModel):
    """Vulnerability IDs of the running image against the candidate."""

    fixed: list[str] = []
    """In the running image, gone from the candidate."""
    new: list[str] = []
    """Only in the candidate."""
    open: list[str] = []
    """In both."""


class ServiceUpdate(BaseModel):
    project: str
    service: str
    image: str | None
    """The normalised reference the service uses."""
    action: UpdateAction
    reason: str
    policy: Policy
    escalations: list[str] = []
    """Reasons this update needs attention although it went ahead (availability policy)."""
    running_image_id: str | None = None
    candidate_image_id: str | None = None
    remote_digest: str | None = None
    delta: FindingDelta | None = None
    newer_tags: list[str] = []
    """Newer tags of the same series in the registry, newest first; never applied by hullcheck."""
