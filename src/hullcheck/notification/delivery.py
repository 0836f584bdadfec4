"""Send one message to every target: Discord webhooks directly, everything else via Apprise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import requests

from hullcheck.notification.apprise_target import send_apprise
from hullcheck.notification.discord import CHANNEL as DISCORD_CHANNEL
from hullcheck.notification.discord import DiscordOptions, DiscordSender
from hullcheck.notification.discord_url import is_discord_url
from hullcheck.notification.models import DeliveryResult, NotificationMessage
from hullcheck.notification.redact import redact, redact_text, redacting_logs

logger = logging.getLogger(__name__)


class Deliverer:
    """Delivers messages to targets one after another and returns one result per target."""

    def __init__(
        self,
        discord: DiscordOptions | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._discord = DiscordSender(discord, session=session, sleep=sleep)

    def deliver(self, message: NotificationMessage, urls: Sequence[str]) -> list[DeliveryResult]:
        """Send ``message`` to each URL. A failed target is a result; nothing is raised.

        Every log record created meanwhile, by any library, has the URLs' secrets redacted.
        """
        secrets: set[str] = set()
        for url in urls:
            secrets |= redact(url).secrets
        with redacting_logs(secrets):
            return [self._deliver_one(message, url, secrets) for url in urls]

    def _deliver_one(
        self, message: NotificationMessage, url: str, secrets: set[str]
    ) -> DeliveryResult:
        discord = is_discord_url(url)
        try:
            if discord:
                return self._discord.send(url, message)
            return send_apprise(url, message)
        except Exception as error:
            # A broken plugin or an unexpected response must not stop the other targets or
            # the run that notifies; the failure is returned and logged, never hidden.
            target = redact(url).text
            text = redact_text(f"{type(error).__name__}: {error}", secrets)
            logger.error("Notification to %s failed unexpectedly: %s", target, text)
            channel = DISCORD_CHANNEL if discord else "apprise"
            return DeliveryResult(target=target, channel=channel, success=False, error=text)
