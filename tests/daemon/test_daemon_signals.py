"""The daemon as a process: SIGTERM while idle stops it cleanly; mid-run it keeps history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hullcheck.exitcodes import ExitCode

HULLCHECK = Path(sys.executable).parent / "hullcheck"


def start(arguments: list[str], data_dir: Path) -> subprocess.Popen[str]:
    """Start hullcheck with its stderr in ``data_dir/stderr.log``, which tests can poll."""
    env = {**os.environ, "HULLCHECK_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("HULLCHECK_CONFIG", None)
    with open(data_dir / "stderr.log", "w") as log:
        return subprocess.Popen(
            [str(HULLCHECK), *arguments], env=env, stdout=subprocess.DEVNULL, stderr=log, text=True
        )


def wait_for(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_sigterm_idle_exits_zero(tmp_path: Path) -> None:
    process = start(
        ["daemon", "--run-at-start", "--schedule", "0 4 * * 0", "--", "history"], tmp_path
    )
    try:
        wait_for(tmp_path / "stderr.log", "Next run at")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        process.kill()

    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM while idle" in stderr


def test_sigterm_mid_scan_recorded(tmp_path: Path) -> None:
    """A scan whose scanner hangs is stopped by SIGTERM and stored as interrupted."""
    marker = tmp_path / "scanning"
    # With no engine the image fails before Trivy runs, so the stand-in hangs in the DB
    # check that every run makes before scanning: the run is interrupted mid-way.
    stub = tmp_path / "trivy"
    stub.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo \'{"Version":"0.76.0"}\'; exit 0; fi\n'
        f"echo started > {marker}\n"
        "exec sleep 60\n"
    )
    stub.chmod(0o755)
    cache = tmp_path / "cache" / "db"
    cache.mkdir(parents=True)
    (cache / "metadata.json").write_text(
        json.dumps({"Version": 2, "UpdatedAt": "2026-12-01T00:00:00Z"})
    )
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: example/app:1\n")
    process = start(
        [
            "scan",
            str(compose),
            "--trivy",
            str(stub),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--db-update",
            "skip",
            "--docker-host",
            f"unix://{tmp_path}/no-engine.sock",
        ],
        tmp_path,
    )
    try:
        wait_for(marker, "started")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()

    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    history = subprocess.run(
        [str(HULLCHECK), "history", "--format", "json", "--db", str(tmp_path / "history.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    runs = json.loads(history.stdout)["runs"]
    assert runs[0]["status"] == "interrupted"
