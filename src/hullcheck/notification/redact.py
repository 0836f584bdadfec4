"""Redaction of notification URLs, whose tokens and passwords are secrets.

Webhook URLs carry their credential in the URL itself, so a URL must never reach a log,
an exception message, the history or a report. ``redact_url`` gives the form to show, and
``redacting_logs`` rewrites every log record created while a delivery runs, because
urllib3 logs request paths and Apprise logs plugin URLs at DEBUG level.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import apprise

from hullcheck.notification.discord_url import parse_discord_url

MASK = "***"

_PUBLIC_SEGMENTS = frozenset(
    {
        "api",
        "hook",
        "hooks",
        "webhook",
        "webhooks",
        "notify",
        "notifications",
        "message",
        "messages",
        "send",
        "json",
        "xml",
        "form",
        "services",
        "v1",
        "v2",
        "v3",
        "v4",
        "v8",
        "v9",
        "v10",
        "hullcheck",
    }
)
"""Path segments kept in a redacted URL: common endpoint words.

Every other segment is masked. A webhook path is often the credential itself, and its
shape (letters only, with hyphens, short) does not show whether it is one.
"""

_HOST = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])$")

_PUBLIC_QUERY_KEYS = frozenset(
    {"format", "overflow", "method", "mode", "priority", "verify", "thread", "thread_id"}
)
"""Query parameters whose values are settings, not credentials."""

_TOKEN_SPLIT = re.compile(r"[/:@?&=#]+")

_MIN_SECRET_LENGTH = 4
"""Shorter fragments are not treated as secrets, so that log text is not mangled."""


@dataclass(frozen=True)
class Redaction:
    text: str
    """The URL to show."""
    secrets: frozenset[str]
    """Every fragment of the URL that ``text`` hides."""


def redact_url(url: str) -> str:
    """Return ``url`` with tokens, passwords and secret-looking parts replaced by ``***``.

    Discord webhooks keep their ID and hide the token. Other URLs go through Apprise's
    privacy rendering, and then every path segment other than a common endpoint word
    (``hooks``, ``api``, ...) is hidden as well, because Apprise keeps paths such as
    ``json://host/hooks/TOKEN``.
    """
    return redact(url).text


def url_secrets(url: str) -> frozenset[str]:
    """Return the fragments of ``url`` that must not appear in any output."""
    return redact(url).secrets


def redact(url: str) -> Redaction:
    text = url.strip()
    discord = parse_discord_url(text)
    if discord is not None:
        secrets = {discord.token, quote(discord.token, safe="")}
        return Redaction(discord.redacted(), _long_enough(secrets))
    return _redact_generic(text, url)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret in ``text`` with ``***``, longest first so overlaps go too."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def _redact_generic(text: str, original: str) -> Redaction:
    try:
        parts = urlsplit(text)
    except ValueError:
        return Redaction("<invalid URL>", _long_enough({text, original}))
    if not parts.scheme or "://" not in text:
        return Redaction("<invalid URL>", _long_enough({text, original}))

    private = _apprise_private_url(text)
    # Only the hidden parts are secrets. Listing the whole URL would also hide a URL that
    # has nothing to hide, whose redacted form is the URL itself.
    secrets: set[str] = set()
    netloc = _redact_netloc(parts.netloc, private, secrets)
    path = _redact_path(parts.path, private, secrets)
    query = _redact_query(parts.query, secrets)
    if parts.fragment:
        secrets.add(parts.fragment)

    # Anything Apprise's own rendering hides is a secret too, such as a bot token that a
    # plugin reads from the host position.
    if private is not None:
        secrets.update(
            fragment
            for fragment in _TOKEN_SPLIT.split(text)
            if fragment and fragment not in private
        )
    return Redaction(f"{parts.scheme}://{netloc}{path}{query}", _long_enough(secrets))


def _redact_netloc(netloc: str, private: str | None, secrets: set[str]) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    shown = _redact_hostport(hostport, private, secrets)
    if not userinfo:
        return shown
    user, has_password, password = userinfo.partition(":")
    if has_password:
        secrets.update({password, unquote(password)})
    shown_user = user if _is_public(unquote(user), private) else MASK
    if shown_user == MASK:
        secrets.update({user, unquote(user)})
    return f"{shown_user}:{MASK}@{shown}" if has_password else f"{shown_user}@{shown}"


def _redact_path(path: str, private: str | None, secrets: set[str]) -> str:
    segments = []
    for segment in path.split("/"):
        if not segment or _is_public(unquote(segment), private):
            segments.append(segment)
        else:
            segments.append(MASK)
            secrets.update({segment, unquote(segment)})
    return "/".join(segments)


def _redact_query(query: str, secrets: set[str]) -> str:
    if not query:
        return ""
    shown = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in _PUBLIC_QUERY_KEYS:
            shown.append(f"{key}={value}")
        else:
            shown.append(f"{key}={MASK}")
            secrets.update({value, quote(value, safe="")})
    return "?" + "&".join(shown)


def _redact_hostport(hostport: str, private: str | None, secrets: set[str]) -> str:
    host, port = _split_hostport(hostport)
    known = private is None or host in private
    if _HOST.match(host) and known:
        return f"{host}:{port}" if port else host
    secrets.update({hostport, host, unquote(host)})
    return f"{MASK}:{port}" if port else MASK


def _split_hostport(hostport: str) -> tuple[str, str]:
    """Split ``host:port``; a non-numeric "port" belongs to the host, as in a bot token."""
    if hostport.startswith("[") and "]" in hostport:
        end = hostport.index("]") + 1
        rest = hostport[end:]
        if rest.startswith(":") and rest[1:].isdigit():
            return hostport[:end], rest[1:]
        return hostport, ""
    host, colon, port = hostport.rpartition(":")
    if colon and port.isdigit() and ":" not in host:
        return host, port
    return hostport, ""


def _is_public(fragment: str, private: str | None) -> bool:
    if fragment.lower() not in _PUBLIC_SEGMENTS:
        return False
    return private is None or fragment in private


def _apprise_private_url(url: str) -> str | None:
    """Return Apprise's privacy rendering of ``url``, or None when no plugin accepts it."""
    with _quiet_apprise():
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return None
    # Apprise's plugin classes leave url() unannotated.
    render: Callable[..., object] = plugin.url
    rendered = render(privacy=True)
    return str(rendered) if rendered else None


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    # Apprise logs "Could not load URL" with part of the URL, and redaction must not log.
    apprise_logger = logging.getLogger("apprise")
    previous = apprise_logger.disabled
    apprise_logger.disabled = True
    try:
        yield
    finally:
        apprise_logger.disabled = previous


def _long_enough(secrets: Iterable[str]) -> frozenset[str]:
    return frozenset(secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH)


_factory_lock = threading.Lock()


@contextmanager
def redacting_logs(secrets: Iterable[str]) -> Iterator[None]:
    """Redact ``secrets`` from every log record created inside the block, by any logger.

    The record factory is process-wide, so records of other threads are redacted too while
    the block runs; that only hides text. Nested blocks combine their secrets.
    """
    active = frozenset(secret for secret in secrets if secret)
    if not active:
        yield
        return
    with _factory_lock:
        previous = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory(previous, active))
    try:
        yield
    finally:
        with _factory_lock:
            logging.setLogRecordFactory(previous)


def _redacting_factory(
    inner: Callable[..., logging.LogRecord], secrets: frozenset[str]
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        cleaned = redact_text(message, secrets)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info:
            # Exception texts of requests contain the request URL.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(formatted, secrets)
            record.exc_info = None
        return record

    return factory
