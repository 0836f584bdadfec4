"""Run a job on a cron schedule in a time zone, one run at a time, until interrupted."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from hullcheck.errors import ConfigurationError

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 60.0
"""Sleep in slices, so a clock change (NTP, suspend) moves the next run at most this late."""


@dataclass(frozen=True)
class Schedule:
    expression: str
    timezone: ZoneInfo

    @classmethod
    def parse(cls, expression: str, timezone: str) -> Schedule:
        """Validate a five-field cron expression and an IANA time zone name."""
        if not croniter.is_valid(expression) or len(expression.split()) != 5:
            raise ConfigurationError(
                f"invalid schedule {expression!r}",
                hint='use five cron fields: minute hour day-of-month month day-of-week, e.g. "0 4 * * 0"',
            )
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigurationError(
                f"unknown time zone {timezone!r}",
                hint="use an IANA name such as UTC or Europe/Berlin",
            ) from error
        return cls(expression, zone)

    def next_run(self, after: datetime) -> datetime:
        """Return the first scheduled time strictly after ``after``, in the schedule's zone."""
        start = after.astimezone(self.timezone)
        upcoming = croniter(self.expression, start).get_next(datetime)
        assert isinstance(upcoming, datetime)
        return upcoming


def run_forever(
    job: Callable[[], int],
    schedule: Schedule,
    *,
    run_at_start: bool = False,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_runs: int | None = None,
) -> None:
    """Call ``job`` at every scheduled time; return after ``max_runs`` runs (tests only).

    The job's exit code is logged. An interruption (SIGTERM) propagates to the caller,
    which tells an idle daemon from one stopped mid-run.
    """
    now = clock or (lambda: datetime.now(schedule.timezone))
    runs = 0
    if run_at_start:
        runs += _run(job)
    while max_runs is None or runs < max_runs:
        due = schedule.next_run(now())
        logger.info("Next run at %s", due.isoformat(timespec="minutes"))
        while (remaining := (due - now()).total_seconds()) > 0:
            sleep(min(remaining, MAX_SLEEP_SECONDS))
        runs += _run(job)


def _run(job: Callable[[], int]) -> int:
    started = time.monotonic()
    code = job()
    logger.info(
        "Scheduled run finished with exit code %d after %.0f s", code, time.monotonic() - started
    )
    return 1
