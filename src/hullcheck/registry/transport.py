"""HTTP sending shared by manifest and token requests: error mapping and one 429 retry."""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import requests

from hullcheck.registry.credentials import redact
from hullcheck.registry.errors import RegistryUnavailableError
from hullcheck.registry.ratelimit import parse_retry_after
from hullcheck.registry.settings import RegistrySettings

logger = logging.getLogger(__name__)

_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_DETAIL_LIMIT = 200


def _describe(error: requests.RequestException, timeout: float) -> str:
    """Describe the OS-level cause of a connection error, without the URL."""
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    match = _ERRNO.search(str(error))
    if match:
        return match.group(0).strip()
    if _has_cause(error, http.client.RemoteDisconnected):
        return "the registry closed the connection without sending a response"
    return type(error).__name__


def _has_cause(error: BaseException, kind: type[BaseException]) -> bool:
    """True when ``kind`` is anywhere in the chain that requests and urllib3 wrap.

    They pass the cause as an argument (``ProtocolError('Connection aborted.', cause)``),
    not only as ``__cause__``, so both are followed.
    """
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        pending.extend(current.args)
        pending.extend((current.__cause__, current.__context__))
    return False


def error_detail(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """Extract a short, redacted reason from an error body in the distribution or OAuth2 format.

    Returns an empty string for HEAD responses, which have no body.
    """
    try:
        data = json.loads(response.content or b"null")
    except ValueError:
        return ""
    parts: list[str] = []
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, dict):
                    code = str(item.get("code", "")).strip()
                    message = str(item.get("message", "")).strip()
                    parts.append(": ".join(part for part in (code, message) if part))
        for key in ("error", "error_description", "details", "message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip())
    text = "; ".join(part for part in parts if part)
    return redact(text, secrets)[:_DETAIL_LIMIT]


@dataclass
class Transport:
    session: requests.Session
    settings: RegistrySettings
    sleep: Callable[[float], None]

    def send(
        self,
        method: str,
        url: str,
        *,
        request_label: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """Send one request, and after a 429 wait for Retry-After once and send it again.

        ``request_label`` names the request in logs and errors, so it must contain no secret.
        A 429 without Retry-After, or asking for more than ``retry_after_max_seconds``,
        is returned at once for the caller to report.
        """
        response = self._send_once(
            method, url, request_label=request_label, headers=headers, data=data, auth=auth
        )
        if response.status_code != 429:
            return response
        delay = parse_retry_after(response.headers.get("Retry-After"))
        if delay is None or delay > self.settings.retry_after_max_seconds:
            return response
        logger.info("%s: HTTP 429, retrying once in %.1f s", request_label, delay)
        self.sleep(delay)
        return self._send_once(
            method, url, request_label=request_label, headers=headers, data=data, auth=auth
        )

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        request_label: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> requests.Response:
        request_headers = {"User-Agent": self.settings.user_agent, **headers}
        try:
            response = self.session.request(
                method,
                url,
                headers=request_headers,
                data=data,
                auth=auth,
                timeout=self.settings.timeout_seconds,
                # Redirects are not followed, so no header ever reaches a host not chosen here.
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise RegistryUnavailableError(
                f"{request_label}: request failed ({_describe(error, self.settings.timeout_seconds)})",
                hint="check that the registry is reachable from this host",
            ) from error
        logger.debug("%s: %s -> HTTP %d", request_label, method, response.status_code)
        return response
