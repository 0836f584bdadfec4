"""Notifications about runs: Discord embeds, every other service through Apprise.

``notify_run`` is the entry point for commands that finish a run; ``build_message``,
``Deliverer`` and ``redact_url`` are the parts it is made of.
"""

from hullcheck.notification.builder import build_message, build_test_message
from hullcheck.notification.delivery import Deliverer
from hullcheck.notification.discord import DiscordOptions, DiscordSender
from hullcheck.notification.discord_layout import DiscordLimits, discord_payloads
from hullcheck.notification.discord_url import is_discord_url, parse_discord_url
from hullcheck.notification.models import (
    DeliveryResult,
    DigestEvent,
    Level,
    NewTagEvent,
    NotificationError,
    NotificationMessage,
    NotifyOn,
    NotifyWhen,
)
from hullcheck.notification.priority import RankedFinding, rank_findings, severity_priority
from hullcheck.notification.redact import redact_url
from hullcheck.notification.service import (
    NotifyOutcome,
    NotifySettings,
    notify_run,
    parse_urls,
    send_test,
)
from hullcheck.notification.text import render_text

__all__ = [
    "Deliverer",
    "DeliveryResult",
    "DigestEvent",
    "DiscordLimits",
    "DiscordOptions",
    "DiscordSender",
    "Level",
    "NewTagEvent",
    "NotificationError",
    "NotificationMessage",
    "NotifyOn",
    "NotifyOutcome",
    "NotifySettings",
    "NotifyWhen",
    "RankedFinding",
    "build_message",
    "build_test_message",
    "discord_payloads",
    "is_discord_url",
    "notify_run",
    "parse_discord_url",
    "parse_urls",
    "rank_findings",
    "redact_url",
    "render_text",
    "send_test",
    "severity_priority",
]
