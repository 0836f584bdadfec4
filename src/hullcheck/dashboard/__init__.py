"""A read-only web dashboard over the scan history, with Prometheus metrics.

Start it with ``hullcheck serve``; see docs/dashboard.md.
"""

from hullcheck.dashboard.history import ReadOnlyHistory, open_read_only
from hullcheck.dashboard.security import TOKEN_ENV, check_binding
from hullcheck.dashboard.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DashboardConfig,
    DashboardServer,
    create_server,
    serve_until_signal,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "DashboardConfig",
    "DashboardServer",
    "ReadOnlyHistory",
    "check_binding",
    "create_server",
    "open_read_only",
    "serve_until_signal",
]
