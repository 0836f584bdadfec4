"""Notification settings, update events and the message model every target renders."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hullcheck.errors import HullcheckError


class NotificationError(HullcheckError):
    """Invalid notification settings, such as an unknown ``notify_on`` value."""


class NotifyWhen(StrEnum):
    """When a run sends a notification."""

    ALWAYS = "always"
    ON_CHANGE = "on-change"
    """Findings, scan results, update outcomes or events differ from what was last notified."""
    NEW_CRITICAL = "new-critical"
    """Only a CRITICAL or known-exploited vulnerability ID not notified before."""


class NotifyOn(StrEnum):
    """Kind of update news to notify about."""

    DIGEST = "digest"
    """Only "same tag, new digest": the registry serves new content for the tag in use."""
    TAG = "tag"
    """Only new tags, such as 4.31 next to the 4.30 in use."""
    BOTH = "both"

    @property
    def digests(self) -> bool:
        return self in (NotifyOn.DIGEST, NotifyOn.BOTH)

    @property
    def tags(self) -> bool:
        return self in (NotifyOn.TAG, NotifyOn.BOTH)


class Level(StrEnum):
    """Urgency of a message, which Apprise calls the notify type."""

    INFO = "info"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class NewTagEvent:
    """A tag newer than the one in use, found by the tag watcher."""

    image: str
    """Repository without tag, e.g. ``docker.io/example/app``."""
    current_tag: str
    new_tag: str
    services: tuple[str, ...] = ()
    """``project/service`` names that use ``current_tag``."""


@dataclass(frozen=True)
class DigestEvent:
    """The tag a service uses now resolves to another digest ("same tag, new digest")."""

    service: str
    """``project/service``."""
    image: str
    digest: str
    action: str
    """The update action taken for the service: held, skipped (dry run), pinned, updated."""
    reason: str


@dataclass(frozen=True)
class Item:
    """One row of a section: a name (an image, a service, a vulnerability) and its details."""

    name: str
    value: str
    """One or more lines."""


@dataclass(frozen=True)
class Section:
    key: str
    """Stable identifier such as ``images`` or ``updates``, for renderers and tests."""
    title: str
    items: tuple[Item, ...] = ()
    notes: tuple[str, ...] = ()
    """Lines about the section as a whole, such as "...and 4 more"."""


@dataclass(frozen=True)
class NotificationMessage:
    """A notification independent of its target; renderers page it to fit each service."""

    title: str
    summary: tuple[str, ...]
    sections: tuple[Section, ...] = ()
    level: Level = Level.INFO
    report_location: str | None = None
    """Path or URL of the full report."""
    run_id: int | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of sending one message to one target. Never contains the raw URL."""

    target: str
    """Redacted URL."""
    channel: str
    """``discord`` or the Apprise service name."""
    success: bool
    messages: int = 0
    """Messages the target accepted."""
    error: str | None = None
    """Reason the delivery failed, redacted."""
    waited_seconds: float = 0.0
    """Time spent waiting for rate limits."""
