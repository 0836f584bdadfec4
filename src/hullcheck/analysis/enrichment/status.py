"""The state of each exploitability feed as a report shows it: loaded, stale or missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class FeedState(StrEnum):
    LOADED = "loaded"
    STALE = "stale"
    """Loaded, but the feed's own date is older than the feed's staleness limit."""
    MISSING = "missing"
    """Not configured, not reachable with no cached copy, or not parseable."""


@dataclass(frozen=True)
class FeedStatus:
    """The outcome of loading one feed, for the report and the notification."""

    name: str
    """``KEV`` or ``EPSS``."""
    state: FeedState
    location: str | None
    """The URL or path asked for; None when the feed is not configured."""
    published_at: datetime | None = None
    """The date the feed states for its content (KEV release, EPSS score date)."""
    age: timedelta | None = None
    """Time from ``published_at`` to the load; never negative."""
    entries: int = 0
    reason: str | None = None
    """Reason the feed is missing."""
    warning: str | None = None
    """Set when a cached copy stood in for a failed download."""

    @property
    def text(self) -> str:
        """Describe the state in a few words: ``loaded (2024-05-01, 2 days old)``."""
        if self.state is FeedState.MISSING:
            return f"missing ({self.reason or 'no reason recorded'})"
        details = []
        if self.published_at is not None:
            details.append(f"{self.published_at:%Y-%m-%d}")
        if self.age is not None:
            details.append(_age_text(self.age))
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{self.state.value}{suffix}"


@dataclass(frozen=True)
class EnrichmentStatus:
    """The state of every feed that a run used to rank findings."""

    kev: FeedStatus
    epss: FeedStatus

    @property
    def feeds(self) -> tuple[FeedStatus, ...]:
        return (self.kev, self.epss)

    @property
    def text(self) -> str:
        """One line for a report: ``KEV: loaded (...); EPSS: missing (...)``."""
        return "; ".join(f"{feed.name}: {feed.text}" for feed in self.feeds)

    @property
    def complete(self) -> bool:
        """True when every feed is loaded and current."""
        return all(feed.state is FeedState.LOADED for feed in self.feeds)


def missing(name: str, location: str | None, reason: str) -> FeedStatus:
    return FeedStatus(name=name, state=FeedState.MISSING, location=location, reason=reason)


def loaded(
    name: str,
    location: str,
    *,
    published_at: datetime,
    now: datetime,
    stale_after: timedelta,
    entries: int,
    warning: str | None = None,
) -> FeedStatus:
    """Return LOADED or STALE, depending on how old ``published_at`` is at ``now``."""
    age = max(_as_utc(now) - _as_utc(published_at), timedelta(0))
    state = FeedState.STALE if age > stale_after else FeedState.LOADED
    return FeedStatus(
        name=name,
        state=state,
        location=location,
        published_at=published_at,
        age=age,
        entries=entries,
        warning=warning,
    )


def _age_text(age: timedelta) -> str:
    if age < timedelta(days=1):
        return "less than a day old"
    days = age.days
    return "1 day old" if days == 1 else f"{days} days old"


def _as_utc(moment: datetime) -> datetime:
    """Read a naive time as UTC so that feed dates and the clock can be compared."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
