"""A registry front on 127.0.0.1 that pages ``tags/list`` as the distribution spec describes.

Debian's docker-registry 2.8 ignores ``n`` and ``last`` and always returns every tag, so
paging cannot be tested against it alone. This front reads the full tag list from the real
registry behind it and serves it sorted and paged as distribution 3, Docker Hub and GHCR do:
``n`` tags after ``last``, with a ``Link: <...>; rel="next"`` header while more remain.
With ``token_required`` it also demands a Bearer token from its own ``/token`` endpoint,
like a registry whose token realm is on the same host.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

_TAGS_PATH = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


@dataclass
class FrontRequest:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class PagingFront:
    """Serve ``/v2/<name>/tags/list`` from ``upstream`` (``http://127.0.0.1:PORT``), paged."""

    upstream: str
    send_link: bool = True
    """False: honour ``n`` and ``last`` but send no Link header (the spec's older form)."""
    max_page_size: int | None = None
    """Reject a larger ``n`` with 400 PAGINATION_NUMBER_INVALID, as distribution 3 does."""
    link_host: str | None = None
    """Host written into absolute Link URLs; None writes relative links."""
    token_required: bool = False
    rate_limited: bool = False
    """Answer every tag list with 429 and no Retry-After, as Docker Hub does at its limit."""
    requests: list[FrontRequest] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        handle = self._handle

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self)

            def do_HEAD(self) -> None:
                handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def tag_requests(self) -> list[FrontRequest]:
        return [r for r in self.requests if r.path.endswith("/tags/list")]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.requests.append(
            FrontRequest(handler.command, parts.path, query, handler.headers.get("Authorization"))
        )
        match = _TAGS_PATH.match(parts.path)
        if parts.path == "/token":
            status, headers, body = self._token(query)
        elif match is not None:
            authorization = handler.headers.get("Authorization")
            status, headers, body = self._tags(match.group("name"), query, authorization)
        else:
            status, headers, body = 404, {}, {"errors": [{"code": "UNSUPPORTED"}]}
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _token(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        token = f"front-token-{secrets.token_hex(8)}"
        self._tokens.add(f"{token} {query.get('scope', '')}")
        return 200, {}, {"token": token, "expires_in": 300}

    def _tags(
        self, name: str, query: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        scope = f"repository:{name}:pull"
        if self.token_required:
            token = (authorization or "").removeprefix("Bearer ")
            if f"{token} {scope}" not in self._tokens:
                challenge = (
                    f'Bearer realm="http://{self.host}/token",service="front",scope="{scope}"'
                )
                return 401, {"WWW-Authenticate": challenge}, {"errors": [{"code": "UNAUTHORIZED"}]}

        if self.rate_limited:
            error = {"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}
            return 429, {}, {"errors": [error]}

        size_text = query.get("n")
        size = int(size_text) if size_text and size_text.isdigit() else None
        if size is not None and self.max_page_size is not None and size > self.max_page_size:
            error = {"code": "PAGINATION_NUMBER_INVALID", "message": "invalid number of results"}
            return 400, {}, {"errors": [error]}

        try:
            with urllib.request.urlopen(
                f"{self.upstream}/v2/{name}/tags/list", timeout=10
            ) as reply:
                listing = json.load(reply)
        except urllib.error.HTTPError as error:
            return error.code, {}, json.load(error)
        tags = sorted(listing.get("tags") or [])
        last = query.get("last")
        if last:
            tags = [tag for tag in tags if tag > last]
        headers: dict[str, str] = {}
        if size is not None and len(tags) > size:
            tags = tags[:size]
            if self.send_link:
                # The extra parameter shows which requests came from a followed link.
                query_text = urlencode({"n": size, "last": tags[-1], "via": "link"})
                link = f"/v2/{name}/tags/list?{query_text}"
                if self.link_host is not None:
                    link = f"http://{self.link_host}{link}"
                headers["Link"] = f'<{link}>; rel="next"'
        return 200, headers, {"name": name, "tags": tags}
