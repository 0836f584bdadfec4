"""``hullcheck serve``: the read-only dashboard over the scan history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hullcheck.cli.report import fail_with
from hullcheck.dashboard import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    TOKEN_ENV,
    DashboardConfig,
    create_server,
    serve_until_signal,
)
from hullcheck.errors import HullcheckError
from hullcheck.storage import default_history_path


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Any address other than loopback needs --token.",
        ),
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = DEFAULT_PORT,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=TOKEN_ENV,
            help="Bearer token that every request must carry (at least 16 characters).",
            show_default=False,
        ),
    ] = None,
    database: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="HULLCHECK_HISTORY_DB",
            help="History database file (default: history.db in the data directory).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a read-only dashboard of the scan history and Prometheus metrics at /metrics."""
    try:
        path = database if database is not None else default_history_path(create=False)
        # An empty HULLCHECK_DASHBOARD_TOKEN means no token, not a token of length zero.
        config = DashboardConfig(database=path, host=host, port=port, token=token or None)
        server = create_server(config)
    except HullcheckError as error:
        fail_with(error)
    # Printed on stderr even with -q, so a script that used --port 0 learns the address.
    typer.echo(f"hullcheck: dashboard on {server.url} (history {path})", err=True)
    serve_until_signal(server)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
