"""The dashboard's HTTP server: the standard library's threading server, GET and HEAD only.

Every request opens the history read-only and closes it before the response is sent, so
the server keeps no lock on the database between requests and never writes it.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hullcheck.dashboard import metrics, pages
from hullcheck.dashboard.history import FindingQuery, ReadOnlyHistory, open_read_only
from hullcheck.dashboard.security import TokenCheck, check_binding
from hullcheck.errors import ConfigurationError, HullcheckError
from hullcheck.reporting.filters import DEFAULT_SEVERITIES, parse_severity_list
from hullcheck.reporting.html import STYLE_HASH
from hullcheck.storage import RunNotFoundError, StorageError

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_LIST_LIMIT = 1000
REQUEST_TIMEOUT_SECONDS = 30.0
"""A connection that sends nothing for this long is closed."""
SHUTDOWN_GRACE_SECONDS = 10.0
"""Maximum wait, on stop, for the requests in progress."""

HTML_TYPE = "text/html; charset=utf-8"
ALLOWED_METHODS = "GET, HEAD"

# The pages have no script, load nothing and post no form, so the policy allows only the
# inline stylesheet (by hash) and the empty data: icon.
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        f"default-src 'none'; style-src '{STYLE_HASH}'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)

_RUN_PATH = re.compile(r"/runs/(\d{1,18})")
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


@dataclass(frozen=True)
class DashboardConfig:
    database: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None


@dataclass
class Response:
    status: HTTPStatus
    body: bytes = b""
    content_type: str = HTML_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


class BadRequest(HullcheckError):
    """A query parameter has an invalid value."""


class DashboardApp:
    """Route one request to a page; independent of the HTTP server for clarity."""

    def __init__(self, config: DashboardConfig) -> None:
        self.database = config.database
        self.token_check = TokenCheck(config.token) if config.token is not None else None

    def handle(self, target: str, headers: Any) -> Response:
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)

        if self.token_check is not None:
            denied = self._authenticate(url.path, query, headers)
            if denied is not None:
                return denied

        try:
            return self._route(url.path, query)
        except BadRequest as error:
            return _page(HTTPStatus.BAD_REQUEST, "Invalid request", error.message, error.hint)
        except RunNotFoundError as error:
            return _page(HTTPStatus.NOT_FOUND, "Run not found", error.message, error.hint)
        except StorageError as error:
            logger.error("Cannot read the history for %s: %s", url.path, error)
            return _page(
                HTTPStatus.SERVICE_UNAVAILABLE, "History unavailable", error.message, error.hint
            )

    def _authenticate(
        self, path: str, query: dict[str, list[str]], headers: Any
    ) -> Response | None:
        check = self.token_check
        assert check is not None
        if "token" in query:
            if not check.token_matches(query["token"][-1]):
                return _unauthorized("The token in the address is wrong.")
            # Move the token from the address into an HttpOnly cookie, so it leaves the
            # address bar and the browser history.
            rest = {name: values for name, values in query.items() if name != "token"}
            location = path + ("?" + urlencode(rest, doseq=True) if rest else "")
            return Response(
                HTTPStatus.SEE_OTHER,
                headers=[("Location", location), ("Set-Cookie", check.session_cookie())],
            )
        if check.authorization_matches(headers.get("Authorization")):
            return None
        if check.cookie_matches(headers.get("Cookie")):
            return None
        return _unauthorized("This dashboard needs a token.")

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        if path == "/":
            return Response(HTTPStatus.FOUND, headers=[("Location", "/runs")])
        if path == "/metrics":
            with self._history() as history:
                text = metrics.render_metrics(metrics.collect_metrics(history))
            return Response(HTTPStatus.OK, text.encode(), metrics.CONTENT_TYPE)

        render: Callable[[ReadOnlyHistory], str]
        if path == "/runs":
            limit = _limit(query, default=50)
            render = lambda history: pages.runs_page(history, limit=limit)  # noqa: E731
        elif match := _RUN_PATH.fullmatch(path):
            run_id = int(match.group(1))
            severities = _severities(query)
            hide_unfixed = _flag(query, "hide_unfixed")
            render = lambda history: pages.run_page(  # noqa: E731
                history, run_id, severities=severities, hide_unfixed=hide_unfixed
            )
        elif path == "/images":
            render = pages.images_page
        elif path == "/findings":
            finding_query = FindingQuery(
                vulnerability_id=_text(query, "cve"),
                package=_text(query, "package"),
                image=_text(query, "image"),
                all_runs=_flag(query, "all"),
            )
            render = lambda history: pages.findings_page(history, finding_query)  # noqa: E731
        elif path == "/trends":
            limit = _limit(query, default=pages.TREND_RUNS)
            render = lambda history: pages.trends_page(history, limit=limit)  # noqa: E731
        else:
            return _page(HTTPStatus.NOT_FOUND, "Not found", f"No page at {path}.")

        with self._history() as history:
            body = render(history)
        return Response(HTTPStatus.OK, body.encode())

    @contextmanager
    def _history(self) -> Iterator[ReadOnlyHistory]:
        with open_read_only(self.database) as history:
            yield history


def _page(status: HTTPStatus, title: str, message: str, hint: str | None = None) -> Response:
    return Response(status, pages.message_page(title, message, hint).encode())


def _unauthorized(message: str) -> Response:
    response = _page(
        HTTPStatus.UNAUTHORIZED,
        "Token required",
        message,
        "send the header `Authorization: Bearer TOKEN`, or open /?token=TOKEN once in a browser",
    )
    response.headers.append(("WWW-Authenticate", 'Bearer realm="hullcheck"'))
    return response


def _text(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[-1].strip() if values else ""


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return _text(query, name).lower() in ("1", "true", "yes", "on")


def _limit(query: dict[str, list[str]], *, default: int) -> int:
    text = _text(query, "limit")
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIST_LIMIT:
        raise BadRequest(
            f"invalid limit {text!r}", hint=f"use a whole number from 1 to {MAX_LIST_LIMIT}"
        )
    return int(text)


def _severities(query: dict[str, list[str]]) -> tuple[Any, ...]:
    text = _text(query, "severity")
    if not text:
        return DEFAULT_SEVERITIES
    try:
        return parse_severity_list(text)
    except ConfigurationError as error:
        raise BadRequest(error.message, hint=error.hint) from error


def redact(text: str) -> str:
    """Replace the value of any ``token=`` parameter in ``text``, for logs."""
    return _TOKEN_IN_TEXT.sub(r"\1[redacted]", text)


class DashboardRequestHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    timeout = REQUEST_TIMEOUT_SECONDS
    server_version = "hullcheck-dashboard"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(include_body=True)

    def do_HEAD(self) -> None:
        self._answer(include_body=False)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD> and sends 501 when it is missing.
        # Every method other than GET and HEAD gets 405 instead, naming the allowed ones.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        response = _page(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "Method not allowed",
            f"The dashboard is read-only and answers only {ALLOWED_METHODS}.",
        )
        response.headers.append(("Allow", ALLOWED_METHODS))
        self._send(response, include_body=True)

    def _answer(self, *, include_body: bool) -> None:
        with self.server.track_request():
            try:
                response = self.server.app.handle(self.path, self.headers)
            except Exception:
                logger.exception("Request %s %s failed", self.command, redact(self.path))
                response = _page(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "The page could not be built; the server log has the details.",
                )
            self._send(response, include_body=include_body)

    def _send(self, response: Response, *, include_body: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (*SECURITY_HEADERS, *response.headers):
            self.send_header(name, value)
        self.end_headers()
        if include_body:
            self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) else 0
        # Successful requests are routine; errors of the server are worth a warning.
        level = logging.WARNING if status >= 500 else logging.DEBUG
        logger.log(
            level, "%s %s %s %s", self.address_string(), self.command, redact(self.path), code
        )

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes to stderr and may include the request line with its token.
        logger.warning("%s: %s", self.address_string(), redact(format % args))


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server that counts the requests in progress, for a clean stop.

    Connection threads are daemons: a browser keeps idle connections open, and a stop
    waits only for requests that are being answered, not for those connections.
    """

    daemon_threads = True

    def __init__(self, config: DashboardConfig) -> None:
        self.app = DashboardApp(config)
        self._active_requests = 0
        self._idle = threading.Condition()
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), DashboardRequestHandler)

    @contextmanager
    def track_request(self) -> Iterator[None]:
        with self._idle:
            self._active_requests += 1
        try:
            yield
        finally:
            with self._idle:
                self._active_requests -= 1
                self._idle.notify_all()

    def wait_for_requests(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for answers in progress; return how many remain."""
        with self._idle:
            self._idle.wait_for(lambda: self._active_requests == 0, timeout)
            return self._active_requests

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up with getfqdn(); the name is never used
        # here, so skip that DNS request.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def url(self) -> str:
        host = self.server_name
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server_port}/"


def create_server(config: DashboardConfig) -> DashboardServer:
    """Check the binding and token, then bind the server; raise ConfigurationError on refusal."""
    check_binding(config.host, config.token)
    try:
        return DashboardServer(config)
    except OSError as error:
        raise ConfigurationError(
            f"cannot listen on {config.host}:{config.port}: {error.strerror or error}",
            hint="choose another --port, or stop the program that uses it",
        ) from error


def serve_until_signal(server: DashboardServer) -> str:
    """Serve until SIGTERM or SIGINT, then finish open requests and close; return the signal."""
    received: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    worker = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    try:
        worker.start()
        logger.info("Serving the dashboard on %s", server.url)
        # A timed wait lets the main thread run the signal handler promptly.
        while not stop.wait(1.0):
            pass
        logger.info("Stopping the dashboard (%s)", received[0])
        server.shutdown()
        worker.join()
        remaining = server.wait_for_requests(SHUTDOWN_GRACE_SECONDS)
        if remaining:
            logger.warning(
                "Stopping with %d requests unanswered after %.0f s",
                remaining,
                SHUTDOWN_GRACE_SECONDS,
            )
    finally:
        server.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    logger.info("Stopped the dashboard")
    return received[0]
