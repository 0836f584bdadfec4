"""The four weekly situations, each measured for the loop and for hullcheck on one lab.

- warm-up: last week's run, which fills every cache; reported but not a scenario;
- a: nothing changed, same DB;
- b: nothing changed, the next day's DB (later UpdatedAt, more advisories);
- c: CHANGED images have a new digest under the same tag;
- d: cold start: new Trivy caches holding only the DB, no hullcheck history or SBOMs.

Every run of scenario c starts from the same engine state: the new revisions are in the
registry and not on the engine, and the containers run the old ones.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.advisories import write_estate_db
from bench.estate import AppSpec, Estate, adopt_releases, forget_releases, release
from bench.measure import Bench, RunResult, fresh_cache, install_db, run_hullcheck, run_loop

logger = logging.getLogger(__name__)

SCENARIOS = {
    "warm-up": "last week's run (fills the caches)",
    "a": "nothing changed, same DB",
    "b": "nothing changed, newer DB",
    "c": "some images changed",
    "d": "cold start",
}

NOTIFY_ONLY_TOOL = "hullcheck, update --policy notify-only"


@dataclass
class Caches:
    loop: Path
    loop_default: Path
    hullcheck: Path
    data: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.loop, self.loop_default, self.hullcheck)


@dataclass
class Outcome:
    """Everything a benchmark session measured, for the report."""

    results: list[RunResult] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    advisories: dict[int, int] = field(default_factory=dict)
    """Advisory count of each DB revision."""
    db_dates: dict[int, datetime] = field(default_factory=dict)

    def result(self, scenario: str, tool: str) -> RunResult | None:
        for result in self.results:
            if result.scenario == scenario and result.tool == tool:
                return result
        return None


def pick_changed(specs: Sequence[AppSpec], count: int) -> list[str]:
    """Spread ``count`` changed apps evenly over the estate, so every base gets some."""
    count = max(0, min(count, len(specs)))
    return [specs[(index * len(specs)) // count].service for index in range(count)] if count else []


def new_caches(work: Path, db: Path, generation: int) -> Caches:
    caches = Caches(
        loop=fresh_cache(db, work / f"cache-loop-{generation}"),
        loop_default=fresh_cache(db, work / f"cache-loop-default-{generation}"),
        hullcheck=fresh_cache(db, work / f"cache-hullcheck-{generation}"),
        data=work / f"data-{generation}",
    )
    if caches.data.exists():
        shutil.rmtree(caches.data)
    return caches


def run_scenarios(
    bench: Bench,
    specs: Sequence[AppSpec],
    *,
    changed: int,
    default_scanners_loop: bool = True,
    profile: bool = False,
) -> Outcome:
    """Measure the warm-up and scenarios a to d in order on ``bench``'s estate."""
    estate = bench.estate
    work = bench.work
    outcome = Outcome()
    first_update = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    databases: dict[int, Path] = {}
    for revision in (1, 2):
        databases[revision] = work / f"db-{revision}"
        outcome.advisories[revision] = write_estate_db(
            databases[revision], estate.inventory, revision=revision, first_update=first_update
        )
        outcome.db_dates[revision] = first_update + timedelta(days=revision - 1)
    caches = new_caches(work, databases[1], 1)

    def measure_all(scenario: str, before_each: Callable[[], None] = lambda: None) -> None:
        logger.info("scenario %s: %s", scenario, SCENARIOS[scenario])
        before_each()
        outcome.results.append(run_loop(bench, scenario, caches.loop, default_scanners=False))
        if default_scanners_loop:
            before_each()
            outcome.results.append(
                run_loop(bench, scenario, caches.loop_default, default_scanners=True)
            )
        before_each()
        outcome.results.append(
            run_hullcheck(bench, scenario, caches.hullcheck, caches.data, profile=profile)
        )

    measure_all("warm-up")
    measure_all("a")

    for cache in caches.all():
        install_db(databases[2], cache)
    measure_all("b")

    outcome.changed = pick_changed(specs, changed)
    releases = release(estate, outcome.changed)
    measure_all("c", lambda: forget_releases(estate, releases))
    forget_releases(estate, releases)
    outcome.results.append(
        run_hullcheck(
            bench,
            "c",
            caches.hullcheck,
            caches.data,
            update_arguments=("--policy", "notify-only"),
            tool=NOTIFY_ONLY_TOOL,
            profile=profile,
        )
    )
    forget_releases(estate, releases)
    adopt_releases(estate, releases)

    caches = new_caches(work, databases[2], 2)
    measure_all("d")
    return outcome


def sbom_component_counts(data_dir: Path) -> list[int]:
    """Return the component count of each stored CycloneDX SBOM: the packages Trivy found."""
    counts = []
    for path in sorted((data_dir / "sboms").glob("*.cdx.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        counts.append(len(document.get("components") or []))
    return counts


def estate_summary(estate: Estate) -> dict[str, int]:
    """Count the estate's apps by base."""
    kinds: dict[str, int] = {}
    for app in estate.apps:
        kinds[app.spec.base] = kinds.get(app.spec.base, 0) + 1
    return kinds
