"""Sort the per-service results of an update run into what a notification reports."""

from __future__ import annotations

from enum import StrEnum

from hullcheck.deployment.models import ServiceUpdate, UpdateAction
from hullcheck.notification.models import DigestEvent
from hullcheck.registry import HUB_RATE_LIMIT_REASON
from hullcheck.registry.models import CheckFailure

CHECK_FAILED_TEXT = "check failed"
_HUB_PREFIX = "docker.io/"


class UpdateKind(StrEnum):
    TAKEN = "taken"
    """hullcheck changed something, or tried to: updated, rolled back, update failed."""
    NEW_DIGEST = "new_digest"
    """The tag now resolves to another digest, which was not deployed (held, dry run, pinned)."""
    CHECK_FAILED = "check_failed"
    """The registry check failed, so nothing is known about an update."""
    RATE_LIMITED = "rate_limited"
    """Not checked because Docker Hub returned 429 in this run."""
    QUIET = "quiet"
    """Up to date, locally built, or skipped without an update: nothing to report one by one."""


def service_name(update: ServiceUpdate) -> str:
    return f"{update.project}/{update.service}"


def classify(update: ServiceUpdate) -> UpdateKind:
    reason = update.reason
    if HUB_RATE_LIMIT_REASON in reason or (
        f"{CHECK_FAILED_TEXT} ({CheckFailure.RATE_LIMIT.value})" in reason
        and (update.image or "").startswith(_HUB_PREFIX)
    ):
        return UpdateKind.RATE_LIMITED
    if CHECK_FAILED_TEXT in reason and update.remote_digest is None:
        return UpdateKind.CHECK_FAILED
    action = update.action
    if action in (UpdateAction.UPDATED, UpdateAction.ROLLED_BACK, UpdateAction.FAILED):
        return UpdateKind.TAKEN
    if update.remote_digest is None:
        return UpdateKind.TAKEN if action is UpdateAction.HELD else UpdateKind.QUIET
    if action in (UpdateAction.HELD, UpdateAction.SKIPPED):
        # A skipped service with a remote digest is a dry run that found an update.
        return UpdateKind.NEW_DIGEST
    if action is UpdateAction.PINNED and _pinned_digest(update) != update.remote_digest.lower():
        return UpdateKind.NEW_DIGEST
    return UpdateKind.QUIET


def digest_events(updates: list[ServiceUpdate]) -> list[DigestEvent]:
    """Return one event per service whose tag resolves to a digest it does not run."""
    events = []
    for update in updates:
        if classify(update) is not UpdateKind.NEW_DIGEST or update.remote_digest is None:
            continue
        events.append(
            DigestEvent(
                service=service_name(update),
                image=update.image or "",
                digest=update.remote_digest,
                action=update.action.value,
                reason=update.reason,
            )
        )
    return events


def _pinned_digest(update: ServiceUpdate) -> str | None:
    image = update.image or ""
    if "@" not in image:
        return None
    return image.rsplit("@", 1)[1].lower()
