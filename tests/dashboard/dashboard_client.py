"""Helpers of the dashboard tests: the test token, an HTTP client and collected errors."""

from __future__ import annotations

import http.client
from collections.abc import Callable

from hullcheck.dashboard import DashboardServer

TOKEN = "test-token-0123456789abcdef"

StartServer = Callable[..., DashboardServer]
"""``start(database, token=None)``: a dashboard on 127.0.0.1 that stops after the test."""


def request(
    server: DashboardServer,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class ConsoleErrors(list[str]):
    """Console errors and uncaught page errors collected while a test runs."""
