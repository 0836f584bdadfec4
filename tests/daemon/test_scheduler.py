"""Cron schedules in a time zone, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hullcheck.errors import ConfigurationError
from hullcheck.scheduler import Schedule, run_forever


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_next_run_weekly_sunday() -> None:
    schedule = Schedule.parse("0 4 * * 0", "UTC")

    upcoming = schedule.next_run(datetime(2026, 12, 4, 21, 0, tzinfo=UTC))

    assert upcoming == datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def test_next_run_follows_time_zone() -> None:
    schedule = Schedule.parse("0 4 * * *", "Europe/Berlin")

    upcoming = schedule.next_run(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))

    assert upcoming == datetime(2026, 12, 5, 4, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert upcoming.astimezone(UTC).hour == 3


def test_next_run_across_dst_change() -> None:
    schedule = Schedule.parse("0 4 * * 0", "Europe/Berlin")

    upcoming = schedule.next_run(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))

    assert upcoming.astimezone(UTC) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["61 4 * * 0", "0 4 * *", "every sunday", "0 4 * * 0 2026"])
def test_invalid_schedule_named(expression: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Schedule.parse(expression, "UTC")

    assert repr(expression) in raised.value.message


def test_unknown_time_zone_named() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Schedule.parse("0 4 * * 0", "Mars/Olympus")

    assert "Mars/Olympus" in raised.value.message


def test_runs_at_each_due_time() -> None:
    clock = FakeClock(datetime(2026, 12, 4, 3, 59, 30, tzinfo=UTC))
    runs: list[datetime] = []

    def job() -> int:
        runs.append(clock.now)
        return 0

    run_forever(job, Schedule.parse("0 4 * * *", "UTC"), clock=clock, sleep=clock.sleep, max_runs=2)

    assert runs == [
        datetime(2026, 12, 4, 4, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 4, 0, tzinfo=UTC),
    ]
    assert max(clock.slept) <= 60


def test_run_at_start_runs_first() -> None:
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    clock = FakeClock(start)
    runs: list[datetime] = []

    def job() -> int:
        runs.append(clock.now)
        return 3

    run_forever(
        job,
        Schedule.parse("0 4 * * *", "UTC"),
        run_at_start=True,
        clock=clock,
        sleep=clock.sleep,
        max_runs=2,
    )

    assert runs[0] == start
    assert runs[1] == datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
