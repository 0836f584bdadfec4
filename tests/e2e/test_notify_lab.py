"""A scan on the lab notifies through Apprise to a local endpoint; a failed target is recorded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import copy_cache, invoke, lab_scan_arguments

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.storage import HistoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notification"))
from notification_lab import Reply, WebhookServer


@pytest.fixture
def receiver() -> Iterator[WebhookServer]:
    server = WebhookServer(default=Reply(200, {"Content-Type": "text/plain"}, b"ok")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("HULLCHECK_DATA_DIR", str(directory))
    return directory


def scan_with_notify(lab: Lab, compose: Path, cache: Path, data_dir: Path, *urls: str) -> object:
    notify = [argument for url in urls for argument in ("--notify-url", url)]
    return invoke("scan", compose, *notify, *lab_scan_arguments(lab, cache, data_dir))


def test_scan_notifies_json_target(
    lab: Lab,
    lab_trivy_cache: Path,
    lab_repository: str,
    tmp_path: Path,
    data_dir: Path,
    receiver: WebhookServer,
) -> None:
    published = publish(lab, "debian-base", lab_repository, "1")
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  app:\n    image: {published.reference}\n")

    result = scan_with_notify(
        lab,
        compose,
        copy_cache(lab_trivy_cache, tmp_path / "cache"),
        data_dir,
        f"json://127.0.0.1:{receiver.port}/hook",
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert len(receiver.requests) == 1
    body = receiver.requests[0].json()
    assert published.reference in body["message"]
    assert "CVE-2023-45853" in body["message"]


def test_failed_target_recorded_not_fatal(
    lab: Lab,
    lab_trivy_cache: Path,
    lab_repository: str,
    tmp_path: Path,
    data_dir: Path,
    receiver: WebhookServer,
) -> None:
    receiver.reply_with(Reply(500, {"Content-Type": "text/plain"}, b"down"))
    published = publish(lab, "alpine-base", lab_repository, "1")
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  db:\n    image: {published.reference}\n")

    result = scan_with_notify(
        lab,
        compose,
        copy_cache(lab_trivy_cache, tmp_path / "cache"),
        data_dir,
        f"json://127.0.0.1:{receiver.port}/secret-path-token",
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert "notification to" in result.stderr
    assert "secret-path-token" not in result.stderr
    with HistoryStore.open(data_dir / "history.db") as store:
        [summary] = store.list_runs()
        deliveries = store.load_deliveries(summary.run_id)
    assert [delivery.success for delivery in deliveries] == [False]
    assert "secret-path-token" not in deliveries[0].target
