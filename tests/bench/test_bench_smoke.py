"""A three-image version of bench/run.py on the session lab.

It checks what the benchmark counts, never how long anything took: registry requests by
kind and Trivy processes by sub-command, for the loop and for hullcheck, through the
scenarios of the benchmark in the same order.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.advisories import write_estate_db
from bench.estate import AppSpec, Estate, build_estate, compose, forget_releases, release
from bench.measure import (
    Bench,
    RunResult,
    fresh_cache,
    install_db,
    run_hullcheck,
    run_loop,
    write_counting_trivy,
)
from bench.scenarios import NOTIFY_ONLY_TOOL

from hullcheck.lab.services import Lab

# Small apps on every base but Alpine: the counts do not depend on the size of an image.
SMOKE_APPS = (
    AppSpec("web", "node", "latest", npm=120, extra_packages=2, binary_mib=1),
    AppSpec("worker", "python", "latest", pip=30, extra_packages=2, binary_mib=1),
    AppSpec("db", "debian", "16", extra_packages=3, binary_mib=1),
)
CHANGED = "web"


@dataclass
class Smoke:
    estate: Estate
    runs: dict[str, RunResult]


@pytest.fixture(scope="module")
def smoke(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smoke]:
    """Run the benchmark's scenarios once, in order, and keep every run's counts."""
    work = tmp_path_factory.mktemp("bench")
    estate = build_estate(lab, work / f"bench{secrets.token_hex(3)}", SMOKE_APPS)
    compose(estate, "up", "-d")
    try:
        yield Smoke(estate, _run_scenarios(estate, work))
    finally:
        compose(estate, "down", "--timeout", "1")


def _run_scenarios(estate: Estate, work: Path) -> dict[str, RunResult]:
    updated = datetime.now(UTC).replace(microsecond=0)
    databases = {revision: work / f"db-{revision}" for revision in (1, 2)}
    for revision, directory in databases.items():
        write_estate_db(directory, estate.inventory, revision=revision, first_update=updated)
    bench = Bench(estate, work, write_counting_trivy(work / "bin"))
    loop_cache = fresh_cache(databases[1], work / "cache-loop")
    cache = fresh_cache(databases[1], work / "cache-hullcheck")
    data = work / "data"

    runs = {
        "cold loop": run_loop(bench, "cold", loop_cache, default_scanners=False),
        "cold": run_hullcheck(bench, "cold", cache, data),
        "same": run_hullcheck(bench, "a", cache, data),
    }
    install_db(databases[2], cache)
    runs["newer db"] = run_hullcheck(bench, "b", cache, data)

    releases = release(estate, [CHANGED])
    runs["changed dry run"] = run_hullcheck(bench, "c", cache, data)
    forget_releases(estate, releases)
    runs["changed notify-only"] = run_hullcheck(
        bench, "c", cache, data, update_arguments=("--policy", "notify-only"), tool=NOTIFY_ONLY_TOOL
    )
    forget_releases(estate, releases)
    runs["changed loop"] = run_loop(bench, "c", loop_cache, default_scanners=False)
    forget_releases(estate, releases)

    runs["cold again"] = run_hullcheck(
        bench, "d", fresh_cache(databases[2], work / "cache-cold"), work / "data-cold"
    )
    return runs


def test_cold_scan_analyses_each_image(smoke: Smoke) -> None:
    run = smoke.runs["cold"]
    assert run.trivy_calls["image"] == len(SMOKE_APPS)
    assert run.trivy_calls["convert"] == len(SMOKE_APPS)
    assert run.trivy_calls["sbom"] == 0
    # A new binary and DB: asked for its version and opened once, by the first command.
    assert run.trivy_calls["--version"] == 1
    assert run.trivy_calls["rootfs"] == 1
    assert run.image_sources == {"image": len(SMOKE_APPS)}
    assert run.requests["manifest HEAD"] == len(SMOKE_APPS)
    assert run.requests["manifest GET"] == 0


def test_loop_scans_every_image(smoke: Smoke) -> None:
    run = smoke.runs["cold loop"]
    assert run.trivy_calls == {"image": len(SMOKE_APPS)}
    assert run.requests["manifest HEAD"] == len(SMOKE_APPS)
    assert run.requests["blob GET"] == 0


def test_same_image_and_db_reused(smoke: Smoke) -> None:
    run = smoke.runs["same"]
    assert run.requests["manifest GET"] == 0
    assert run.requests["blob GET"] == 0
    assert run.trivy_calls["image"] == 0
    assert run.trivy_calls["sbom"] == 0
    # The binary and the DB passed their checks last week: no Trivy process at all.
    assert run.trivy_calls["--version"] == 0
    assert run.trivy_calls["rootfs"] == 0
    assert run.image_sources == {"reused": len(SMOKE_APPS)}


def test_newer_db_rematches_sboms(smoke: Smoke) -> None:
    run = smoke.runs["newer db"]
    # All three apps are on the Debian base: one merged match.
    assert run.trivy_calls["sbom"] == 1
    assert run.trivy_calls["image"] == 0
    # The new DB is opened once; the binary is the same.
    assert run.trivy_calls["rootfs"] == 1
    assert run.trivy_calls["--version"] == 0
    assert run.image_sources == {"sbom": len(SMOKE_APPS)}
    assert run.requests["manifest GET"] == 0


def test_dry_run_pulls_and_analyses_nothing(smoke: Smoke) -> None:
    run = smoke.runs["changed dry run"]
    assert run.update_actions == {"skipped": 1, "up_to_date": len(SMOKE_APPS) - 1}
    assert run.requests["manifest GET"] == 0
    assert run.requests["blob GET"] == 0
    assert run.trivy_calls["image"] == 0
    assert run.image_sources == {"reused": len(SMOKE_APPS)}


def test_notify_only_analyses_new_and_running(smoke: Smoke) -> None:
    run = smoke.runs["changed notify-only"]
    # The update analyses the new image only: the running one's result is in the history.
    assert run.trivy_calls["image"] == 1
    assert run.update_actions == {"held": 1, "up_to_date": len(SMOKE_APPS) - 1}
    assert run.requests["manifest GET"] == 1
    assert run.requests["blob GET"] >= 1
    assert run.image_sources == {"reused": len(SMOKE_APPS)}


def test_loop_pulls_changed_image(smoke: Smoke) -> None:
    run = smoke.runs["changed loop"]
    assert run.trivy_calls == {"image": len(SMOKE_APPS)}
    assert run.requests["manifest HEAD"] == len(SMOKE_APPS)
    assert run.requests["manifest GET"] == 1
    assert run.requests["blob GET"] >= 1


def test_cold_start_analyses_again(smoke: Smoke) -> None:
    run = smoke.runs["cold again"]
    assert run.trivy_calls["image"] == len(SMOKE_APPS)
    assert run.trivy_calls["sbom"] == 0
    assert run.image_sources == {"image": len(SMOKE_APPS)}


def test_hullcheck_reports_peak_rss(smoke: Smoke) -> None:
    for name, run in smoke.runs.items():
        if run.tool.startswith("loop"):
            assert run.peak_rss_kib is None, name
        else:
            assert run.peak_rss_kib is not None and run.peak_rss_kib > 0, name
