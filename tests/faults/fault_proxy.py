"""An HTTP proxy on 127.0.0.1 that injects faults in front of the lab registry.

Requests that match no fault are forwarded to the registry unchanged, with the response
streamed back, so the Docker engine can pull through the proxy as through a registry.
A fault matches by method and a regular expression on the path. It returns a status,
waits before forwarding, or closes the connection without a response.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Headers that describe one connection, not the message, so they are never copied across.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_CHUNK_BYTES = 64 * 1024


class FaultKind(StrEnum):
    STATUS = "status"
    """Send ``status``, ``headers`` and ``body`` instead of forwarding."""
    DELAY = "delay"
    """Wait ``delay_seconds``, then forward."""
    DROP = "drop"
    """Close the connection without sending a response."""


@dataclass
class Fault:
    kind: FaultKind
    path: str
    """Regular expression searched in the request path (with its query)."""
    method: str | None = None
    """HTTP method to match; None matches every method."""
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_seconds: float = 0.0
    times: int | None = None
    """How many matching requests get the fault; None means every one."""
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.path, path) is not None


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    path: str
    outcome: str
    """``forwarded HTTP 200``, ``injected HTTP 500``, ``dropped`` or ``upstream failed``."""


class FaultProxy:
    """A threaded proxy to ``upstream`` (``127.0.0.1:PORT``); stop it with ``stop()``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[ProxiedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so a response body ends at the close
            # and no chunked encoding is needed when streaming.
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                owner._handle(self)

            def do_HEAD(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host(self) -> str:
        """The proxy's ``127.0.0.1:PORT``, to use as the registry part of image references."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def seen(self, method: str, path_pattern: str) -> list[ProxiedRequest]:
        """Requests with ``method`` whose path matches ``path_pattern``, oldest first."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.method == method and re.search(path_pattern, request.path)
            ]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, handler: BaseHTTPRequestHandler, outcome: str) -> None:
        with self._lock:
            self.requests.append(ProxiedRequest(handler.command, handler.path, outcome))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        fault = self._take_fault(handler.command, handler.path)
        if fault is not None and fault.kind is FaultKind.DROP:
            self._record(handler, "dropped")
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind is FaultKind.STATUS:
            self._record(handler, f"injected HTTP {fault.status}")
            handler.send_response(fault.status)
            for name, value in fault.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(fault.body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(fault.body)
            return
        # An event wait, so stop() does not have to sit out a long delay.
        if (
            fault is not None
            and fault.kind is FaultKind.DELAY
            and self._stopping.wait(fault.delay_seconds)
        ):
            return
        self._forward(handler)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        host, port = self.upstream.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.putrequest(
                handler.command, handler.path, skip_host=True, skip_accept_encoding=True
            )
            connection.putheader("Host", self.upstream)
            # A list, not a dict: the engine sends one Accept line per media type, and
            # keeping only the last would make the registry serve an older manifest format.
            for name, value in handler.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "host":
                    connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
        except OSError:
            self._record(handler, "upstream failed")
            handler.send_error(502, "upstream registry unreachable")
            connection.close()
            return
        try:
            self._record(handler, f"forwarded HTTP {response.status}")
            handler.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.end_headers()
            if handler.command == "HEAD":
                return
            while chunk := response.read(_CHUNK_BYTES):
                handler.wfile.write(chunk)
        except OSError:
            # The client closed the connection, e.g. after its timeout, so nothing is sent.
            pass
        finally:
            connection.close()
