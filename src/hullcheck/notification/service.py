"""Notify about a finished run: decide, build, deliver, and record what was sent."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from hullcheck.config import setting_value
from hullcheck.notification.builder import DEFAULT_TOP_FINDINGS, build_message, build_test_message
from hullcheck.notification.delivery import Deliverer
from hullcheck.notification.discord import DiscordOptions
from hullcheck.notification.models import (
    DeliveryResult,
    NewTagEvent,
    NotificationError,
    NotifyOn,
    NotifyWhen,
)
from hullcheck.notification.priority import PriorityKey, exploit_priority
from hullcheck.notification.state import (
    STATE_KINDS,
    News,
    StoredState,
    compare,
    observe,
    should_notify,
    state_entries,
)
from hullcheck.run import RunRecord
from hullcheck.storage import HistoryStore, StorageError
from hullcheck.storage.notifications import DeliveryRecord

logger = logging.getLogger(__name__)

DISCORD_API_BASE_ENV = "HULLCHECK_DISCORD_API_BASE"
"""Scheme and host for Discord webhook requests, in place of https://discord.com."""

_URL_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class NotifySettings:
    urls: tuple[str, ...] = ()
    when: NotifyWhen = NotifyWhen.ALWAYS
    notify_on: NotifyOn = NotifyOn.BOTH
    top_findings: int = DEFAULT_TOP_FINDINGS
    discord: DiscordOptions = field(default_factory=DiscordOptions)

    @classmethod
    def from_values(
        cls,
        urls: Sequence[str] | str | None,
        when: str | None = None,
        notify_on: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> NotifySettings:
        """Build settings from flag or config values; raise NotificationError for bad ones.

        Each URL entry may hold several URLs separated by commas or whitespace. The Discord
        API base comes from ``HULLCHECK_DISCORD_API_BASE`` in ``environ``, for tests and
        proxies.
        """
        env = os.environ if environ is None else environ
        entries = [urls] if isinstance(urls, str) else list(urls or ())
        discord = DiscordOptions()
        if api_base := env.get(DISCORD_API_BASE_ENV, "").strip():
            discord = DiscordOptions(api_base=api_base)
        return cls(
            urls=tuple(url for entry in entries for url in parse_urls(entry)),
            when=_choice(NotifyWhen, when, NotifyWhen.ALWAYS, "notify_when"),
            notify_on=_choice(NotifyOn, notify_on, NotifyOn.BOTH, "notify_on"),
            discord=discord,
        )

    @classmethod
    def from_config(cls) -> NotifySettings:
        """Read the notification settings from the environment, else the config file."""
        return cls.from_values(
            setting_value("notify_urls"),
            setting_value("notify_when"),
            setting_value("notify_on"),
        )


@dataclass(frozen=True)
class NotifyOutcome:
    sent: bool
    reason: str
    """The reason the run was or was not notified."""
    results: tuple[DeliveryResult, ...] = ()
    news: News | None = None
    storage_error: str | None = None
    """Set when the deliveries or the state could not be stored after sending."""

    @property
    def failed(self) -> tuple[DeliveryResult, ...]:
        return tuple(result for result in self.results if not result.success)


def parse_urls(text: str) -> tuple[str, ...]:
    """Split a list of URLs on commas and whitespace, dropping empty entries."""
    return tuple(part for part in _URL_SEPARATORS.split(text.strip()) if part)


def notify_run(
    run: RunRecord,
    settings: NotifySettings,
    *,
    store: HistoryStore | None = None,
    new_tags: Sequence[NewTagEvent] = (),
    known_exploited: frozenset[str] = frozenset(),
    report_location: str | None = None,
    sort_key: PriorityKey = exploit_priority,
    deliverer: Deliverer | None = None,
    force: bool = False,
    remember: bool = True,
) -> NotifyOutcome:
    """Send the run's notification when ``settings.when`` calls for it.

    Compares the run with the notification state in ``store``. After a delivery that at
    least one target accepted, stores the new state (unless ``remember`` is false), so a
    restart does not send the same news again. ``force`` sends regardless of news.
    Delivery failures are returned in the outcome and never raised. A store that cannot be
    read raises StorageError before anything is sent.
    """
    if not settings.urls:
        return NotifyOutcome(False, "no notification URL is configured")

    observation = observe(
        run, known_exploited=known_exploited, new_tags=new_tags, notify_on=settings.notify_on
    )
    stored = StoredState()
    if store is not None:
        stored = StoredState.from_entries(store.load_notification_state(STATE_KINDS))
    news = compare(observation, stored)
    send, reason = (True, "sent on request") if force else should_notify(settings.when, news)
    if not send:
        logger.info("No notification for run %s: %s", run.run_id, reason)
        return NotifyOutcome(False, reason, news=news)

    # Tag events already notified are not repeated unless every run is to be sent in full.
    tags = new_tags if force or settings.when is NotifyWhen.ALWAYS else news.tag_events
    message = build_message(
        run,
        report_location=report_location,
        new_tags=tags,
        notify_on=settings.notify_on,
        known_exploited=known_exploited,
        news=news,
        sort_key=sort_key,
        top_limit=settings.top_findings,
    )
    sender = deliverer or Deliverer(settings.discord)
    results = tuple(sender.deliver(message, settings.urls))

    storage_error = None
    if store is not None:
        now = datetime.now(UTC)
        try:
            store.save_deliveries([_record(result, run.run_id, now) for result in results])
            if remember and any(result.success for result in results):
                store.save_notification_state(
                    state_entries(observation, stored, run_id=run.run_id, now=now)
                )
        except StorageError as error:
            storage_error = str(error)
            logger.error("Notification of run %s was sent but not recorded: %s", run.run_id, error)
    return NotifyOutcome(True, reason, results, news, storage_error)


def send_test(urls: Sequence[str], *, deliverer: Deliverer | None = None) -> list[DeliveryResult]:
    """Send a short test message to every URL and return one result per URL."""
    return (deliverer or Deliverer()).deliver(build_test_message(), urls)


def _record(result: DeliveryResult, run_id: int | None, now: datetime) -> DeliveryRecord:
    return DeliveryRecord(
        run_id=run_id,
        sent_at=now,
        target=result.target,
        channel=result.channel,
        success=result.success,
        messages=result.messages,
        error=result.error,
    )


_Choice = TypeVar("_Choice", NotifyWhen, NotifyOn)


def _choice(kind: type[_Choice], value: str | None, default: _Choice, name: str) -> _Choice:
    if value is None or not value.strip():
        return default
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise NotificationError(
            f"invalid {name} value {value!r}", hint=f"set it to one of: {allowed}"
        ) from None
