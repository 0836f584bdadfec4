"""``hullcheck serve`` as a process: start, respond, stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import http.client
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_client import TOKEN
from dashboard_samples import SeededHistory

from hullcheck.exitcodes import ExitCode

URL_LINE = re.compile(r"dashboard on http://127\.0\.0\.1:(\d+)/")
START_TIMEOUT_SECONDS = 30.0


def hullcheck_process(*arguments: str, token: str | None = None) -> subprocess.Popen[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("HULLCHECK_")
    }
    environment["COLUMNS"] = "400"
    if token is not None:
        environment["HULLCHECK_DASHBOARD_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "hullcheck", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def read_port(process: subprocess.Popen[str], output: list[str]) -> int:
    """Read stderr lines until the server names its port."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not selector.select(timeout=1.0):
            continue
        line = process.stderr.readline()
        if not line:
            break
        output.append(line)
        if match := URL_LINE.search(line):
            return int(match.group(1))
    pytest.fail(f"hullcheck serve did not report its address; stderr: {''.join(output)}")


@pytest.fixture
def served(history: SeededHistory) -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    process = hullcheck_process(
        "-v", "serve", "--port", "0", "--db", str(history.path), token=TOKEN
    )
    output: list[str] = []
    try:
        yield process, read_port(process, output), output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(
    served: tuple[subprocess.Popen[str], int, list[str]], signum: signal.Signals
) -> None:
    process, port, output = served
    assert get(port, "/runs") == 401
    assert get(port, "/runs", {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert get(port, f"/runs?token={TOKEN}") == 303

    process.send_signal(signum)
    _, rest = process.communicate(timeout=30)

    stderr = "".join(output) + rest
    assert process.returncode == 0
    assert f"Stopping the dashboard ({signum.name})" in stderr
    assert "Stopped the dashboard" in stderr
    # -v logs every request, and the token must appear in none of them.
    assert "/runs?token=[redacted]" in stderr
    assert TOKEN not in stderr


# An empty HULLCHECK_DASHBOARD_TOKEN counts as no token.
@pytest.mark.parametrize("token", [None, ""])
def test_other_bind_without_token_refused(tmp_path: Path, token: str | None) -> None:
    process = hullcheck_process(
        "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "h.db"), token=token
    )
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == ExitCode.USAGE
    assert "cannot serve the dashboard on 0.0.0.0 without a token" in stderr
    assert "--token" in stderr
