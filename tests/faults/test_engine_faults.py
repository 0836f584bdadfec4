"""The Docker engine stops in the middle of a scan: the rest fail with a reason, none is lost.

This test stops a dockerd, so it starts a private lab of its own and never touches the
session's lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_lab import (
    REAL_TRIVY,
    copy_cache,
    history_runs,
    image_entry,
    invoke,
    json_document,
    scan_arguments,
    stored_run,
    write_compose,
)

from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab, LabError
from hullcheck.scanning.models import ScanStatus


@pytest.fixture
def doomed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A second lab whose engine the test may stop."""
    private = Lab(tmp_path_factory.mktemp("doomed-lab"))
    try:
        private.start()
    except LabError as error:
        pytest.fail(f"the private lab could not start: {error}", pytrace=False)
    try:
        yield private
    finally:
        private.stop(remove_root=True)


def engine_stopping_trivy(directory: Path, dockerd_pid: int) -> Path:
    """Write a trivy that stops dockerd right after the first image scan has finished.

    It waits until dockerd has exited, so the next scan finds no engine.
    """
    marker = directory / "engine-stopped"
    script = directory / "trivy"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in image|rootfs|sbom) set -- "$@" --offline-scan ;; esac\n'
        f'"{REAL_TRIVY}" "$@"\n'
        "status=$?\n"
        f'if [ "$1" = "image" ] && [ ! -e "{marker}" ]; then\n'
        f'    touch "{marker}"\n'
        f"    kill -TERM {dockerd_pid}\n"
        "    waited=0\n"
        "    while [ $waited -lt 300 ]; do\n"
        f"        state=$(cut -d' ' -f3 /proc/{dockerd_pid}/stat 2>/dev/null)\n"
        '        if [ -z "$state" ] || [ "$state" = "Z" ]; then break; fi\n'
        "        sleep 0.1\n"
        "        waited=$((waited + 1))\n"
        "    done\n"
        "fi\n"
        "exit $status\n"
    )
    script.chmod(0o755)
    return script


def test_engine_stop_fails_remaining_images(
    doomed_lab: Lab, lab_trivy_cache: Path, lab_repository: str, tmp_path: Path, data_dir: Path
) -> None:
    compose = write_compose(
        tmp_path / "stack",
        {
            "first": publish(doomed_lab, "alpine-base", f"{lab_repository}/first", "1").reference,
            "second": publish(doomed_lab, "debian-base", f"{lab_repository}/second", "1").reference,
            "third": publish(
                doomed_lab, "alpine-base", f"{lab_repository}/third", "1", revision="3"
            ).reference,
        },
    )
    docker_host = doomed_lab.docker_host
    stub = engine_stopping_trivy(tmp_path, doomed_lab.pids["dockerd"])
    history = tmp_path / "history.db"
    cache = copy_cache(lab_trivy_cache, tmp_path / "cache")

    result = invoke(
        "scan", compose, "--format", "json", *scan_arguments(doomed_lab, cache, history, stub)
    )

    assert (tmp_path / "engine-stopped").exists()
    assert result.exit_code == ExitCode.SCAN_FAILED, result.stderr
    document = json_document(result)
    assert image_entry(document, "first")["status"] == ScanStatus.SCANNED.value
    for service in ("second", "third"):
        image = image_entry(document, service)
        assert image["status"] == ScanStatus.FAILED.value
        assert image["severity_counts"] is None
        assert "failed to connect to the docker API" in image["reason"]
        assert docker_host in image["reason"]
        assert "daemon is running" in image["reason"]
    [run] = history_runs(history)
    assert run["status"] == "partial"
    assert run["images_scanned"] == 1
    assert run["images_failed"] == 2
    assert len(stored_run(history, run["run_id"]).images) == 3
