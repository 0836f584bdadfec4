"""Notifications about runs: Discord embeds, every other service through Apprise.

``notify_run`` is the entry point for commands that finish a run; ``build_message``,
``Deliverer`` and ``redact_url`` are the parts it is made of.

Importing the package loads none of its modules: a command that never notifies does not
pay for Apprise. Each name is imported from its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "Deliverer": "hullcheck.notification.delivery",
    "DeliveryResult": "hullcheck.notification.models",
    "DigestEvent": "hullcheck.notification.models",
    "DiscordLimits": "hullcheck.notification.discord_layout",
    "DiscordOptions": "hullcheck.notification.discord",
    "DiscordSender": "hullcheck.notification.discord",
    "Level": "hullcheck.notification.models",
    "NewTagEvent": "hullcheck.notification.models",
    "NotificationError": "hullcheck.notification.models",
    "NotificationMessage": "hullcheck.notification.models",
    "NotifyOn": "hullcheck.notification.models",
    "NotifyOutcome": "hullcheck.notification.service",
    "NotifySettings": "hullcheck.notification.service",
    "NotifyWhen": "hullcheck.notification.models",
    "RankedFinding": "hullcheck.notification.priority",
    "build_message": "hullcheck.notification.builder",
    "build_test_message": "hullcheck.notification.builder",
    "discord_payloads": "hullcheck.notification.discord_layout",
    "is_discord_url": "hullcheck.notification.discord_url",
    "notify_run": "hullcheck.notification.service",
    "parse_discord_url": "hullcheck.notification.discord_url",
    "parse_urls": "hullcheck.notification.service",
    "rank_findings": "hullcheck.notification.priority",
    "redact_url": "hullcheck.notification.redact",
    "render_text": "hullcheck.notification.text",
    "send_test": "hullcheck.notification.service",
    "severity_priority": "hullcheck.notification.priority",
}

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


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
