"""Fixture feeds, and a feed server on 127.0.0.1 that serves bytes and honours validators.

``fixtures/known_exploited_vulnerabilities.json`` contains four real KEV entries: the CVE IDs,
vendors, products, dates and ransomware use match CISA's catalog, while the catalog
header describes this trimmed copy and ``requiredAction`` texts may differ from CISA's
wording. ``fixtures/epss_scores.csv`` has the layout of FIRST's file, but its scores are
fixture values chosen for the tests, not FIRST's published scores.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
KEV_FIXTURE = FIXTURES / "known_exploited_vulnerabilities.json"
EPSS_FIXTURE = FIXTURES / "epss_scores.csv"


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    content_type: str = "application/octet-stream"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class FeedServer:
    """Serve ``resources`` by path; a request for an unknown path gets 404."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server = server
        # A short poll interval makes shutdown() return quickly at the end of each test.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def statuses(self, path: str) -> list[int]:
        return [request.status for request in self.requests if request.path == path]


def _handler(feeds: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            resource = feeds.resources.get(self.path)
            status = self._status(resource)
            feeds.requests.append(Request(self.path, dict(self.headers.items()), status))
            self.send_response(status)
            if resource is not None and resource.etag:
                self.send_header("ETag", resource.etag)
            if resource is not None and resource.last_modified:
                self.send_header("Last-Modified", resource.last_modified)
            body = resource.body if resource is not None and status == 200 else b""
            if status == 200 and resource is not None:
                self.send_header("Content-Type", resource.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _status(self, resource: Resource | None) -> int:
            if resource is None:
                return 404
            if resource.status != 200:
                return resource.status
            if resource.etag and self.headers.get("If-None-Match") == resource.etag:
                return 304
            modified_since = self.headers.get("If-Modified-Since")
            if resource.last_modified and modified_since == resource.last_modified:
                return 304
            return 200

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
