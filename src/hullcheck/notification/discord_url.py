"""Discord webhook URLs: Apprise's ``discord://ID/TOKEN`` and the HTTPS form Discord shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

DISCORD_HOSTS = frozenset(
    {
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
        "ptb.discordapp.com",
        "canary.discordapp.com",
    }
)

DEFAULT_API_BASE = "https://discord.com"

_HTTPS_PATH = re.compile(
    r"^/api(?:/v(?P<version>\d+))?/webhooks/(?P<id>\d+)/(?P<token>[^/]+)/?$", re.IGNORECASE
)
_WEBHOOK_ID = re.compile(r"^\d+$")


@dataclass(frozen=True)
class DiscordWebhook:
    """A parsed webhook URL. ``token`` is the secret; everything else may be shown."""

    webhook_id: str
    token: str
    version: int | None = None
    """API version written in the URL; None for ``discord://`` and unversioned URLs."""
    host: str | None = None
    """Host of an HTTPS URL; None for ``discord://``."""
    username: str | None = None
    """Name to post as: the user part of ``discord://NAME@ID/TOKEN``."""
    thread_id: str | None = None
    text_only: bool = False
    """True with ``format=text``: plain ``content`` messages instead of embeds."""

    def redacted(self) -> str:
        if self.host is None:
            user = f"{self.username}@" if self.username else ""
            return f"discord://{user}{self.webhook_id}/***"
        version = f"/v{self.version}" if self.version is not None else ""
        return f"https://{self.host}/api{version}/webhooks/{self.webhook_id}/***"

    def endpoint(self, api_base: str, api_version: int | None) -> str:
        """Return the URL to POST to.

        ``api_version`` None keeps the version written in the URL, which may be none.
        """
        version = api_version if api_version is not None else self.version
        prefix = f"/api/v{version}" if version is not None else "/api"
        return f"{api_base.rstrip('/')}{prefix}/webhooks/{self.webhook_id}/{self.token}"


def is_discord_url(url: str) -> bool:
    return parse_discord_url(url) is not None


def parse_discord_url(url: str) -> DiscordWebhook | None:
    """Parse a Discord webhook URL, or return None for any other URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    query = {key.lower(): value for key, value in parse_qsl(parts.query)}
    thread_id = query.get("thread_id") or query.get("thread") or None
    text_only = query.get("format", "").lower() == "text"

    if scheme == "discord":
        user, _, webhook_id = parts.netloc.rpartition("@")
        token = parts.path.strip("/")
        if not _WEBHOOK_ID.match(webhook_id) or not token or "/" in token:
            return None
        return DiscordWebhook(
            webhook_id=webhook_id,
            token=token,
            username=user or None,
            thread_id=thread_id,
            text_only=text_only,
        )

    if scheme in ("https", "http") and (parts.hostname or "").lower() in DISCORD_HOSTS:
        match = _HTTPS_PATH.match(parts.path)
        if match is None:
            return None
        version = match.group("version")
        return DiscordWebhook(
            webhook_id=match.group("id"),
            token=match.group("token"),
            version=int(version) if version else None,
            host=(parts.hostname or "").lower(),
            thread_id=thread_id,
            text_only=text_only,
        )
    return None
