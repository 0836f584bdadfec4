"""Delivery to every non-Discord target through Apprise, one Apprise object per URL."""

from __future__ import annotations

import logging
import re

import apprise

from hullcheck.notification.models import DeliveryResult, Level, NotificationMessage
from hullcheck.notification.redact import redact, redact_text
from hullcheck.notification.text import render_text

logger = logging.getLogger(__name__)

_NOTIFY_TYPES = {
    Level.INFO: apprise.NotifyType.INFO,
    Level.WARNING: apprise.NotifyType.WARNING,
    Level.FAILURE: apprise.NotifyType.FAILURE,
}

_LOG_PREFIX = re.compile(r"^\S+ \S+ - [A-Z]+ - ")
"""Timestamp and level that Apprise's captured log lines start with."""

_ERROR_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def send_apprise(url: str, message: NotificationMessage) -> DeliveryResult:
    """Deliver the plain-text rendering of ``message`` to one Apprise URL."""
    redaction = redact(url)
    target = redaction.text
    notifier = apprise.Apprise()
    if not notifier.add(url):
        error = "invalid or unsupported notification URL; check its scheme and parts"
        logger.warning("Notification to %s failed: %s", target, error)
        return DeliveryResult(target=target, channel="apprise", success=False, error=error)

    services = list(notifier)
    channel = str(getattr(services[0], "service_name", "apprise")) if services else "apprise"
    result = notifier.notify(
        body=render_text(message),
        title=message.title,
        notify_type=_NOTIFY_TYPES[message.level],
        body_format=apprise.NotifyFormat.TEXT,
    )
    if result:
        logger.info("Sent a %s notification to %s", channel, target)
        return DeliveryResult(target=target, channel=channel, success=True, messages=1)

    error = _failure_text(result) or f"{channel} did not accept the notification"
    error = redact_text(error, redaction.secrets)
    logger.warning("Notification to %s failed: %s", target, error)
    return DeliveryResult(target=target, channel=channel, success=False, error=error)


def _failure_text(result: object) -> str:
    """Join the warnings Apprise captured while sending; Apprise 1.x returns a plain bool."""
    logs = getattr(result, "logs", None)
    if logs is None:
        return ""
    lines = []
    for entry in logs():
        level = str(getattr(entry, "level", "")).upper()
        text = _LOG_PREFIX.sub("", str(getattr(entry, "message", entry))).strip()
        if level in _ERROR_LEVELS and text and text not in lines:
            lines.append(text)
    return " ".join(lines)
