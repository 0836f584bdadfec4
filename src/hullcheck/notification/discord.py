"""Send a message to a Discord webhook: paged embeds, sequential posts, rate-limit retries.

hullcheck posts to Discord itself instead of through Apprise's Discord plugin. In Apprise
2.3 that plugin posts to the unversioned ``/api/webhooks`` path and retries a 429 once
without reading ``retry_after``. It also logs the full webhook URL at DEBUG level and
builds its own embeds. Every other target still goes through Apprise.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hullcheck import __version__
from hullcheck.notification.discord_layout import DiscordLimits, discord_payloads
from hullcheck.notification.discord_url import (
    DEFAULT_API_BASE,
    DiscordWebhook,
    parse_discord_url,
)
from hullcheck.notification.models import DeliveryResult, NotificationMessage
from hullcheck.notification.redact import redact_text, url_secrets

logger = logging.getLogger(__name__)

CHANNEL = "discord"

SECONDS_API_VERSION = 8
"""From API v8 on, Discord sends ``retry_after`` in float seconds; before, in milliseconds."""

_BODY_LOG_LIMIT = 1000


@dataclass(frozen=True)
class DiscordOptions:
    api_base: str = DEFAULT_API_BASE
    """Scheme and host the webhook requests go to; tests point it at a local server."""
    api_version: int | None = 10
    """API version put in the path. None keeps the version written in the URL, if any."""
    max_total_wait: float = 60.0
    """Seconds one delivery may spend waiting for rate limits before it gives up."""
    max_attempts: int = 5
    """Attempts per message, the first one included."""
    timeout: float = 10.0
    """Seconds to wait for each HTTP response."""
    limits: DiscordLimits = field(default_factory=DiscordLimits)


@dataclass
class _Post:
    accepted: bool
    fatal: bool = False
    """True when the remaining messages would fail the same way."""
    error: str | None = None
    bucket_wait: float = 0.0
    """Seconds until Discord's bucket refills, when the response said it is empty."""


@dataclass
class _Budget:
    limit: float
    waited: float = 0.0

    def allows(self, seconds: float) -> bool:
        return self.waited + seconds <= self.limit


def retry_after_seconds(
    status_body: str, headers: requests.structures.CaseInsensitiveDict[str], version: int | None
) -> float:
    """Work out how long a 429 response asks to wait, in seconds.

    The body's ``retry_after`` is float seconds from API v8 on and milliseconds before, so
    an unversioned URL's ``1500`` means 1.5 s. When a Retry-After header (whole seconds,
    rounded up) is present, the reading of the body value closer to it wins, which also
    catches a server that does not follow its version's unit.
    """
    header = _header_seconds(headers.get("Retry-After"))
    body_value = _body_retry_after(status_body)
    if body_value is not None:
        as_seconds, as_milliseconds = body_value, body_value / 1000
        if header is not None:
            closer = abs(as_seconds - header) <= abs(as_milliseconds - header)
            return max(as_seconds if closer else as_milliseconds, 0.0)
        in_seconds = version is not None and version >= SECONDS_API_VERSION
        return max(as_seconds if in_seconds else as_milliseconds, 0.0)
    if header is not None:
        return header
    reset_after = _float_or_none(headers.get("X-RateLimit-Reset-After"))
    return reset_after if reset_after is not None else 1.0


class DiscordSender:
    """Posts messages to Discord webhooks one after another, never in parallel."""

    def __init__(
        self,
        options: DiscordOptions | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``session`` None opens a session for each delivery and closes it afterwards."""
        self.options = options or DiscordOptions()
        self._session = session
        self._sleep = sleep

    def send(self, url: str, message: NotificationMessage) -> DeliveryResult:
        """Deliver ``message`` to the webhook ``url``; failures are returned, not raised."""
        webhook = parse_discord_url(url)
        if webhook is None:
            raise ValueError("send() needs a Discord webhook URL; check is_discord_url() first")
        target = webhook.redacted()
        payloads = discord_payloads(
            message,
            text_only=webhook.text_only,
            username=webhook.username,
            limits=self.options.limits,
        )
        budget = _Budget(self.options.max_total_wait)
        session = self._session or requests.Session()
        try:
            accepted, errors = self._send_payloads(session, webhook, payloads, budget, target)
        finally:
            if self._session is None:
                session.close()

        error = redact_text("; ".join(errors), url_secrets(url)) if errors else None
        if error:
            logger.warning("Discord notification to %s failed: %s", target, error)
        else:
            logger.info("Sent %d Discord messages to %s", accepted, target)
        return DeliveryResult(
            target=target,
            channel=CHANNEL,
            success=not errors,
            messages=accepted,
            error=error,
            waited_seconds=budget.waited,
        )

    def _send_payloads(
        self,
        session: requests.Session,
        webhook: DiscordWebhook,
        payloads: list[dict[str, Any]],
        budget: _Budget,
        target: str,
    ) -> tuple[int, list[str]]:
        """Post the payloads in order; return how many were accepted and the errors."""
        version = self.options.api_version
        if version is None:
            version = webhook.version
        endpoint = webhook.endpoint(self.options.api_base, self.options.api_version)
        params = {"thread_id": webhook.thread_id} if webhook.thread_id else {}

        accepted = 0
        errors: list[str] = []
        bucket_wait = 0.0
        for index, payload in enumerate(payloads, start=1):
            if bucket_wait > 0 and budget.allows(bucket_wait):
                logger.debug("Discord bucket empty for %s; waiting %.2f s", target, bucket_wait)
                self._wait(bucket_wait, budget)
            post = self._post(session, endpoint, payload, params, version, budget, target)
            bucket_wait = post.bucket_wait
            if post.accepted:
                accepted += 1
                continue
            errors.append(f"message {index} of {len(payloads)}: {post.error}")
            if post.fatal:
                skipped = len(payloads) - index
                if skipped:
                    errors.append(f"{skipped} later messages not sent")
                break
        return accepted, errors

    def _post(
        self,
        session: requests.Session,
        endpoint: str,
        payload: dict[str, Any],
        params: dict[str, str],
        version: int | None,
        budget: _Budget,
        target: str,
    ) -> _Post:
        headers = {"User-Agent": f"hullcheck/{__version__}"}
        for attempt in range(1, self.options.max_attempts + 1):
            try:
                response = session.post(
                    endpoint,
                    json=payload,
                    params=params,
                    headers=headers,
                    timeout=self.options.timeout,
                )
            except requests.RequestException as error:
                # The exception text contains the request URL, so only its class is kept.
                return _Post(False, fatal=True, error=f"request failed: {type(error).__name__}")

            status = response.status_code
            if 200 <= status < 300:
                return _Post(True, bucket_wait=_bucket_wait(response))
            body = response.text[:_BODY_LOG_LIMIT]
            last = attempt == self.options.max_attempts

            if status == 429:
                wait = retry_after_seconds(response.text, response.headers, version)
                if last or not budget.allows(wait):
                    return _Post(
                        False,
                        fatal=True,
                        error=(
                            f"HTTP 429 rate limited, retry after {wait:.2f} s, after "
                            f"{budget.waited:.2f} s of {budget.limit:.0f} s allowed waiting"
                        ),
                    )
                logger.warning(
                    "Discord rate limit for %s: waiting %.2f s before attempt %d (%s)",
                    target,
                    wait,
                    attempt + 1,
                    body,
                )
                self._wait(wait, budget)
                continue

            if status >= 500 and not last:
                backoff = float(2 ** (attempt - 1))
                if budget.allows(backoff):
                    logger.warning(
                        "Discord returned HTTP %d for %s; retrying in %.0f s",
                        status,
                        target,
                        backoff,
                    )
                    self._wait(backoff, budget)
                    continue

            if status == 400:
                # The body names the rejected field, e.g. {"content": ["Must be 2000 or fewer
                # in length."]}; a later message may still be accepted.
                logger.error("Discord rejected a message for %s with HTTP 400: %s", target, body)
                return _Post(False, fatal=False, error=f"HTTP 400: {body}")
            hint = ""
            if status in (401, 403, 404):
                hint = " (the webhook was deleted or its token is wrong; copy the URL again)"
            return _Post(False, fatal=True, error=f"HTTP {status}: {body}{hint}")
        return _Post(False, fatal=True, error="no attempt left")

    def _wait(self, seconds: float, budget: _Budget) -> None:
        budget.waited += seconds
        self._sleep(seconds)


def _bucket_wait(response: requests.Response) -> float:
    """Return the seconds until the bucket refills when no request is left in it, else 0."""
    if response.headers.get("X-RateLimit-Remaining") != "0":
        return 0.0
    reset_after = _float_or_none(response.headers.get("X-RateLimit-Reset-After"))
    return max(reset_after or 0.0, 0.0)


def _body_retry_after(body: str) -> float | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    value = document.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _header_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    seconds = _float_or_none(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _float_or_none(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
