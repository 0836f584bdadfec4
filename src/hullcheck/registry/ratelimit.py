"""Rate-limit headers (``ratelimit-limit``, ``ratelimit-remaining``, ``Retry-After``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from hullcheck.registry.models import RateLimit

_QUOTA = re.compile(r"\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?")


def _parse_quota(value: str | None) -> tuple[int | None, int | None]:
    """``100;w=21600`` -> (100, 21600)."""
    if value is None:
        return None, None
    match = _QUOTA.match(value)
    if match is None:
        return None, None
    window = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), window


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Read Docker Hub's rate-limit headers, or return None when the response has neither."""
    limit, limit_window = _parse_quota(headers.get("ratelimit-limit"))
    remaining, remaining_window = _parse_quota(headers.get("ratelimit-remaining"))
    if limit is None and remaining is None:
        return None
    return RateLimit(
        limit=limit, remaining=remaining, window_seconds=limit_window or remaining_window
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds to wait from a ``Retry-After`` value in seconds or an HTTP date.

    Returns None for a missing or unreadable value, and 0 for a date in the past.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
