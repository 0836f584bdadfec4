"""``hullcheck update`` against a registry that fails: every failure is ``failed`` with a reason.

The stacks use images through the fault proxy (``127.0.0.1:PROXY/repo:tag``), so the
engine pulls and hullcheck checks through it. The repository of the service ``broken``
gets the fault; the service ``healthy`` must still be checked as usual.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import Fault, FaultKind, FaultProxy
from faults_lab import (
    Stack,
    StackFactory,
    copy_cache,
    history_runs,
    json_document,
    service_result,
    stored_run,
    update_stack,
)

from hullcheck.deployment.models import UpdateAction
from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SHORT_REGISTRY_TIMEOUT = 2.0
"""Registry timeout for the slow-registry test; the default is 30 s and has no option."""


def proxied_stack(
    lab: Lab, proxy: FaultProxy, make_stack: StackFactory, repository: str
) -> tuple[Stack, str]:
    """Start services ``broken`` and ``healthy`` from two repositories behind the proxy.

    Returns the stack and the manifest path of ``broken``'s repository, for faults.
    """
    for name, kind in (("broken", "alpine-base"), ("healthy", "debian-base")):
        publish(lab, kind, f"{repository}/{name}", "1")
    stack = make_stack(
        {
            "broken": f"{proxy.host}/{repository}/broken:1",
            "healthy": f"{proxy.host}/{repository}/healthy:1",
        }
    )
    return stack, f"/v2/{repository}/broken/manifests/1$"


def assert_only_broken_failed(document: dict[str, Any], *reason_parts: str) -> None:
    broken = service_result(document, "broken")
    assert broken["action"] == UpdateAction.FAILED.value, broken["reason"]
    for part in reason_parts:
        assert part in broken["reason"]
    healthy = service_result(document, "healthy")
    assert healthy["action"] == UpdateAction.UP_TO_DATE.value, healthy["reason"]


def assert_run_stored_partial(history: Path) -> None:
    [run] = history_runs(history)
    assert run["status"] == "partial"
    stored = stored_run(history, run["run_id"])
    actions = {update.service: update.action for update in stored.updates}
    assert actions == {"broken": UpdateAction.FAILED, "healthy": UpdateAction.UP_TO_DATE}


def test_server_error_fails_one_service(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, broken = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    fault_proxy.add(Fault(FaultKind.STATUS, broken, method="HEAD", status=500))
    history = tmp_path / "history.db"

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), history)

    assert result.exit_code == ExitCode.UPDATE_FAILED, result.stderr
    assert_only_broken_failed(json_document(result), "check failed", "HTTP 500", "run again later")
    assert_run_stored_partial(history)


def test_rate_limit_retried_once(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, broken = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    fault_proxy.add(
        Fault(
            FaultKind.STATUS,
            broken,
            method="HEAD",
            status=429,
            headers={"Retry-After": "1"},
            times=1,
        )
    )
    before = len(fault_proxy.seen("HEAD", broken))

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir / "h.db")

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    document = json_document(result)
    assert service_result(document, "broken")["action"] == UpdateAction.UP_TO_DATE.value
    assert service_result(document, "healthy")["action"] == UpdateAction.UP_TO_DATE.value
    outcomes = [request.outcome for request in fault_proxy.seen("HEAD", broken)[before:]]
    assert outcomes == ["injected HTTP 429", "forwarded HTTP 200"]


def test_rate_limit_twice_fails(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, broken = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    fault_proxy.add(
        Fault(FaultKind.STATUS, broken, method="HEAD", status=429, headers={"Retry-After": "1"})
    )
    before = len(fault_proxy.seen("HEAD", broken))
    history = tmp_path / "history.db"

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), history)

    assert result.exit_code == ExitCode.UPDATE_FAILED, result.stderr
    assert_only_broken_failed(
        json_document(result),
        "check failed (rate limit)",
        "HTTP 429",
        "Retry-After: 1",
        "run again later",
    )
    assert len(fault_proxy.seen("HEAD", broken)[before:]) == 2
    assert_run_stored_partial(history)


def test_dropped_connection_fails(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, broken = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    fault_proxy.add(Fault(FaultKind.DROP, broken, method="HEAD"))
    history = tmp_path / "history.db"

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), history)

    assert result.exit_code == ExitCode.UPDATE_FAILED, result.stderr
    assert_only_broken_failed(
        json_document(result),
        "check failed (network)",
        "closed the connection without sending a response",
        "check that the registry is reachable",
    )
    assert_run_stored_partial(history)


def test_slow_registry_times_out(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack, broken = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    fault_proxy.add(Fault(FaultKind.DELAY, broken, method="HEAD", delay_seconds=30))
    history = tmp_path / "history.db"

    result = update_stack(
        stack,
        copy_cache(lab_trivy_cache, tmp_path / "cache"),
        history,
        "--registry-timeout",
        str(SHORT_REGISTRY_TIMEOUT),
    )

    assert result.exit_code == ExitCode.UPDATE_FAILED, result.stderr
    assert_only_broken_failed(
        json_document(result), "check failed (network)", "timed out after 2 s"
    )
    assert_run_stored_partial(history)


def test_failed_pull_keeps_running_version(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, _ = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    running = stack.container_id("broken")
    # A new digest under the same tag, whose layer downloads then fail through the proxy.
    new = publish(lab, "alpine-base", f"{lab_repository}/broken", "1", revision="2")
    lab.client().images.remove(new.image_id, force=True)
    fault_proxy.add(
        Fault(FaultKind.STATUS, f"/v2/{lab_repository}/broken/blobs/", method="GET", status=500)
    )
    history = tmp_path / "history.db"

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), history)

    assert result.exit_code == ExitCode.UPDATE_FAILED, result.stderr
    assert_only_broken_failed(
        json_document(result), "kept the running version", "error pulling image", "500"
    )
    assert stack.container_id("broken") == running
    assert_run_stored_partial(history)


def rewrite_manifest(lab: Lab, repository: str, tag: str) -> str:
    """Push the tag's manifest again with other whitespace: a new digest, the same image.

    Registries and build tools do this when they re-serialise a manifest. Returns the
    new digest.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"{lab.registry_url}/v2/{repository}/manifests/{tag}"
    request = urllib.request.Request(url, headers={"Accept": DOCKER_MANIFEST})
    with opener.open(request) as response:
        manifest = json.load(response)
    body = json.dumps(manifest, indent=1).encode()
    put = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": DOCKER_MANIFEST}
    )
    with opener.open(put) as response:
        return str(response.headers["Docker-Content-Digest"])


def test_same_image_new_digest_not_recreated(
    lab: Lab,
    fault_proxy: FaultProxy,
    make_stack: StackFactory,
    lab_repository: str,
    lab_trivy_cache: Path,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    stack, _ = proxied_stack(lab, fault_proxy, make_stack, lab_repository)
    running = stack.container_id("broken")
    digest = rewrite_manifest(lab, f"{lab_repository}/broken", "1")

    result = update_stack(stack, copy_cache(lab_trivy_cache, tmp_path / "cache"), data_dir / "h.db")

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    broken = service_result(json_document(result), "broken")
    assert broken["action"] == UpdateAction.UP_TO_DATE.value, broken["reason"]
    assert digest in broken["reason"]
    assert "already running" in broken["reason"]
    assert stack.container_id("broken") == running
