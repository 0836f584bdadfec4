"""Manifest HEAD requests: the digest a tag resolves to, without pulling anything.

Only HEAD is ever sent for a manifest, because Docker Hub counts a manifest GET as a pull.
Other API reads, such as a tag list, use GET through ``get_api``: they are not pulls.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from types import TracebackType

import requests

from hullcheck.discovery.models import ImageReference
from hullcheck.registry.auth import Authenticator, choose_challenge
from hullcheck.registry.challenge import parse_www_authenticate
from hullcheck.registry.credentials import CredentialStore
from hullcheck.registry.errors import (
    HubRateLimitedError,
    ManifestMediaTypeError,
    ManifestNotFoundError,
    RegistryAuthError,
    RegistryProtocolError,
    RegistryRateLimitError,
    RegistryServerError,
)
from hullcheck.registry.models import MANIFEST_ACCEPT, RateLimit, RemoteManifest
from hullcheck.registry.ratelimit import parse_rate_limit
from hullcheck.registry.settings import RegistrySettings
from hullcheck.registry.transport import Transport, error_detail

logger = logging.getLogger(__name__)

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
HUB_RATE_LIMIT_REASON = "not checked: Docker Hub rate limit"


def classify_not_found(
    request_label: str, detail: str
) -> ManifestNotFoundError | ManifestMediaTypeError:
    """Tell a missing tag from a registry that rejected every media type in Accept.

    ``detail`` is the error body's text; it is empty for HEAD responses.
    """
    if "accept header does not support" in detail.lower():
        return ManifestMediaTypeError(
            f"{request_label}: the registry rejected every requested manifest media type ({detail})",
            hint="this is a hullcheck bug, not a missing tag; please report it",
        )
    # NOTE: a HEAD response has no body, so a registry's "accept header does not support
    # OCI manifests" 404 looks like a missing tag here. Every manifest type is in Accept,
    # so a conforming registry does not send it.
    return ManifestNotFoundError(
        f"{request_label}: HTTP 404, no manifest for this tag in any accepted media type",
        hint="check the tag with `docker manifest inspect`; a tag can also be private",
    )


class RegistryClient:
    """Registry access for one run: caches tokens and stops Docker Hub requests after a 429.

    A 429 is retried once after its Retry-After wait when that is at most
    ``retry_after_max_seconds``. On a Docker Hub host, a 429 that remains after that
    (or comes without a usable Retry-After) stops every further Hub request in the run.

    It is not thread-safe, so use one client per thread.
    """

    def __init__(
        self,
        settings: RegistrySettings | None = None,
        *,
        credentials: CredentialStore | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or RegistrySettings()
        self._session = session or requests.Session()
        self._transport = Transport(self._session, self.settings, sleep)
        store = credentials or CredentialStore(self.settings.docker_config)
        self._auth = Authenticator(self._transport, store, self.settings, clock)
        self._hub_rate_limited = False
        self._warned_low: set[str] = set()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    @property
    def hub_rate_limited(self) -> bool:
        """True once Docker Hub returned 429: no further Hub request is sent in this run."""
        return self._hub_rate_limited

    def is_hub(self, ref: ImageReference) -> bool:
        return ref.api_host in self.settings.hub_hosts

    def head_manifest(self, ref: ImageReference) -> RemoteManifest:
        """HEAD the manifest of ``ref``'s tag (its digest when no tag is written).

        Raises a RegistryError subclass for every failure; never falls back to a GET.
        """
        host = ref.api_host
        hub = self.is_hub(ref)
        if hub and self._hub_rate_limited:
            raise HubRateLimitedError(
                HUB_RATE_LIMIT_REASON, hint="run again after the limit resets"
            )
        reference = ref.effective_tag or ref.digest or "latest"
        url = f"{self.settings.base_url(host)}/v2/{ref.repository}/manifests/{reference}"
        separator = ":" if ref.effective_tag else "@"
        request_label = f"HEAD {host}/{ref.repository}{separator}{reference}"

        authorization: str | None = None
        known = self._auth.known_challenge(host)
        if known is not None:
            authorization = self._auth.authorization(
                known, registry=ref.registry, repository=ref.repository
            )
        response = self._head(url, request_label, authorization)
        if response.status_code == 401:
            challenge = choose_challenge(
                parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
            )
            if challenge is None:
                raise RegistryAuthError(
                    f"{request_label}: HTTP 401 without a Bearer or Basic challenge",
                    hint="check the registry's authentication settings",
                )
            self._auth.remember(host, challenge)
            # A 401 to a token that was sent means it expired or was revoked: fetch anew.
            authorization = self._auth.authorization(
                challenge,
                registry=ref.registry,
                repository=ref.repository,
                refresh=authorization is not None,
            )
            response = self._head(url, request_label, authorization)

        rate_limit = self._log_rate_limit(host, response)
        self._raise_for_status(response, request_label, ref, hub=hub)
        return self._manifest(response, request_label, ref, rate_limit)

    def get_api(
        self, ref: ImageReference, path: str, *, request_label: str, accept: str
    ) -> requests.Response:
        """GET a registry API ``path`` (``/v2/...`` with its query) of ``ref``'s repository.

        Authenticates like ``head_manifest``: the host's known challenge first, then one
        retry with a fresh token after a 401. Raises a RegistryError subclass for 401, 403,
        429 and 5xx statuses, and returns any other response for the caller to read.
        Manifest paths raise ValueError, because Docker Hub counts a manifest GET as a pull.
        """
        if not path.startswith("/v2/") or "/manifests/" in path:
            raise ValueError(f"get_api only sends non-manifest /v2/ requests, not {path!r}")
        host = ref.api_host
        hub = self.is_hub(ref)
        if hub and self._hub_rate_limited:
            raise HubRateLimitedError(
                HUB_RATE_LIMIT_REASON, hint="run again after the limit resets"
            )
        url = f"{self.settings.base_url(host)}{path}"
        response = self._send_authorized("GET", url, ref, request_label, {"Accept": accept})
        self._log_rate_limit(host, response)
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            self._raise_for_status(response, request_label, ref, hub=hub)
        return response

    def error_detail(self, response: requests.Response) -> str:
        """Return the short reason in an error body, with every known secret redacted."""
        return error_detail(response, self._auth.secrets)

    def _send_authorized(
        self,
        method: str,
        url: str,
        ref: ImageReference,
        request_label: str,
        headers: dict[str, str],
    ) -> requests.Response:
        """Send with the host's known challenge, and once more after a 401 challenge."""
        host = ref.api_host
        authorization: str | None = None
        known = self._auth.known_challenge(host)
        if known is not None:
            authorization = self._auth.authorization(
                known, registry=ref.registry, repository=ref.repository
            )
        response = self._transport.send(
            method,
            url,
            request_label=request_label,
            headers=_with_authorization(headers, authorization),
        )
        if response.status_code != 401:
            return response
        challenge = choose_challenge(
            parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
        )
        if challenge is None:
            raise RegistryAuthError(
                f"{request_label}: HTTP 401 without a Bearer or Basic challenge",
                hint="check the registry's authentication settings",
            )
        self._auth.remember(host, challenge)
        # A 401 to a token that was sent means it expired or was revoked: fetch anew.
        authorization = self._auth.authorization(
            challenge,
            registry=ref.registry,
            repository=ref.repository,
            refresh=authorization is not None,
        )
        return self._transport.send(
            method,
            url,
            request_label=request_label,
            headers=_with_authorization(headers, authorization),
        )

    def _head(self, url: str, request_label: str, authorization: str | None) -> requests.Response:
        headers = {"Accept": MANIFEST_ACCEPT}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = self._transport.send("HEAD", url, request_label=request_label, headers=headers)
        # Reading the (empty) body hands the connection back to the pool.
        _ = response.content
        return response

    def _raise_for_status(
        self, response: requests.Response, request_label: str, ref: ImageReference, *, hub: bool
    ) -> None:
        status = response.status_code
        if status == 200:
            return
        detail = error_detail(response, self._auth.secrets)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            raise RegistryAuthError(
                f"{request_label}: HTTP 401 even with fresh credentials{suffix}",
                hint=f"check that the credentials stored for {ref.registry} may pull "
                f"{ref.repository}",
            )
        if status == 403:
            raise RegistryAuthError(
                f"{request_label}: HTTP 403, access denied{suffix}",
                hint=f"check that the credentials stored for {ref.registry} may pull "
                f"{ref.repository}",
            )
        if status == 404:
            raise classify_not_found(request_label, detail)
        if status == 429:
            retry_after = response.headers.get("Retry-After")
            waited = f" (Retry-After: {retry_after})" if retry_after else ""
            if hub:
                self._hub_rate_limited = True
                logger.warning(
                    "Docker Hub returned 429%s; no further Docker Hub request in this run",
                    waited,
                )
            raise RegistryRateLimitError(
                f"{request_label}: HTTP 429 Too Many Requests{waited}{suffix}"
            )
        if status >= 500:
            raise RegistryServerError(f"{request_label}: HTTP {status}{suffix}")
        raise RegistryProtocolError(f"{request_label}: unexpected HTTP {status}{suffix}")

    def _manifest(
        self,
        response: requests.Response,
        request_label: str,
        ref: ImageReference,
        rate_limit: RateLimit | None,
    ) -> RemoteManifest:
        digest = response.headers.get("Docker-Content-Digest")
        if digest is None and ref.effective_tag is None and ref.digest is not None:
            digest = ref.digest
        if digest is None or not _DIGEST.match(digest.strip()):
            raise RegistryProtocolError(
                f"{request_label}: the response has no valid Docker-Content-Digest header ({digest!r})",
                hint="this registry cannot be checked without a GET, which hullcheck never sends",
            )
        media_type = response.headers.get("Content-Type")
        if media_type is not None:
            media_type = media_type.split(";", 1)[0].strip()
        logger.debug("%s: %s (%s)", request_label, digest, media_type)
        return RemoteManifest(digest=digest.strip(), media_type=media_type, rate_limit=rate_limit)

    def _log_rate_limit(self, host: str, response: requests.Response) -> RateLimit | None:
        rate_limit = parse_rate_limit(response.headers)
        if rate_limit is None:
            return None
        logger.debug(
            "%s rate limit: %s of %s remaining (window %s s)",
            host,
            rate_limit.remaining,
            rate_limit.limit,
            rate_limit.window_seconds,
        )
        low = (
            rate_limit.remaining is not None
            and rate_limit.remaining <= self.settings.rate_limit_warning_at
        )
        if low and host not in self._warned_low:
            # One warning per host and run: every later response would repeat it.
            self._warned_low.add(host)
            logger.warning(
                "%s rate limit nearly used up: %s of %s requests remaining",
                host,
                rate_limit.remaining,
                rate_limit.limit,
            )
        return rate_limit


def _with_authorization(headers: dict[str, str], authorization: str | None) -> dict[str, str]:
    if authorization is None:
        return dict(headers)
    return {**headers, "Authorization": authorization}
