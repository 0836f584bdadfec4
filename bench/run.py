"""Benchmark hullcheck against the weekly ``docker-compose pull`` plus Trivy loop.

Run as root from the repository root:

    .venv/bin/python bench/run.py [--images 30] [--changed 6] [--out docs/benchmarks.md]

It starts a private dockerd and registry on 127.0.0.1 (``hullcheck.lab``), builds and
pushes the estate, starts it with docker-compose, measures the scenarios of
``bench.scenarios`` for both tools, writes the page and stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
if str(REPOSITORY_ROOT) not in sys.path:
    # Run as a script, Python puts bench/ on the path, not the directory holding the package.
    sys.path.insert(0, str(REPOSITORY_ROOT))

from bench.estate import APPS, PROJECT, Estate, build_estate, compose, layer_counts  # noqa: E402
from bench.measure import (  # noqa: E402
    LOOP_SEVERITY,
    Bench,
    machine_facts,
    write_counting_trivy,
)
from bench.report import EstateFacts, carried_notes, render  # noqa: E402
from bench.scenarios import Outcome, estate_summary, run_scenarios, sbom_component_counts  # noqa: E402
from hullcheck.lab.services import Lab  # noqa: E402

logger = logging.getLogger("bench")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--images", type=int, default=30, help=f"apps in the estate, 1 to {len(APPS)} (default 30)"
    )
    parser.add_argument(
        "--changed", type=int, default=6, help="apps with a new release in scenario c (default 6)"
    )
    parser.add_argument(
        "--out", type=Path, default=REPOSITORY_ROOT / "docs" / "benchmarks.md", help="page to write"
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements to this file")
    parser.add_argument(
        "--skip-secret-loop",
        action="store_true",
        help="measure the loop only with --scanners vuln, not also with Trivy's default scanners",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile every hullcheck command with cProfile (files kept with --keep)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (reports, logs, profiles)"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.images <= len(APPS):
        parser.error(f"--images is {arguments.images}; give 1 to {len(APPS)}")
    if not 0 <= arguments.changed <= arguments.images:
        parser.error(f"--changed is {arguments.changed}; give 0 to --images ({arguments.images})")
    return arguments


def estate_facts(estate: Estate, outcome: Outcome, data_dir: Path) -> EstateFacts:
    """Describe the estate with what Trivy found in it during the first (cold) hullcheck scan."""
    warm_up = outcome.result("warm-up", "hullcheck")
    high_critical: list[int] = []
    all_findings: list[int] = []
    if warm_up is not None and "scan" in warm_up.reports:
        report = json.loads(warm_up.reports["scan"].read_text(encoding="utf-8"))
        for image in report["images"]:
            counts = image.get("severity_counts") or {}
            high_critical.append(int(counts.get("HIGH", 0)) + int(counts.get("CRITICAL", 0)))
            all_findings.append(sum(int(value) for value in counts.values()))
    layers = layer_counts(estate)
    return EstateFacts(
        images=len(estate.apps),
        by_base=estate_summary(estate),
        layer_references=layers["layer_references"],
        distinct_layers=layers["distinct_layers"],
        packages_per_image=sbom_component_counts(data_dir),
        high_critical_per_image=high_critical,
        all_findings_per_image=all_findings,
    )


def documented_commands() -> tuple[list[str], list[str]]:
    trivy_flags = (
        f"--severity {LOOP_SEVERITY} --skip-db-update --skip-version-check "
        '--cache-dir "$LOOP_CACHE" --image-src docker'
    )
    loop = [
        "# loop (vuln)",
        f"docker-compose -p {PROJECT} -f {PROJECT}/docker-compose.yml pull",
        "for image in $IMAGES; do",
        f'  trivy image {trivy_flags} --scanners vuln "$image"',
        "done",
        "# loop (vuln+secret): the same pass again, without --scanners vuln and with a",
        "# LOOP_CACHE of its own, so Trivy runs its default scanners (vuln and secret)",
    ]
    common = (
        '--docker-host "$DOCKER_HOST" --cache-dir "$HULLCHECK_CACHE" --db-update skip '
        "--trivy COUNTING_TRIVY --format json --output REPORT"
    )
    hullcheck = [
        f"hullcheck update {PROJECT} --dry-run {common}",
        f"hullcheck scan {PROJECT} {common}",
        "# scenario c, second variant: the update pulls and scans the new images",
        f"hullcheck update {PROJECT} --policy notify-only {common}",
        f"hullcheck scan {PROJECT} {common}",
    ]
    return loop, hullcheck


def byte_compile() -> None:
    """Compile hullcheck's modules once, as pip does when it installs a wheel.

    The editable install of the development set-up leaves that to the first import, and
    with PYTHONDONTWRITEBYTECODE set (as on these machines) every command would compile
    its modules again, which no installed hullcheck does.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPOSITORY_ROOT / "src")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        print("bench/run.py must run as root: it starts its own dockerd", file=sys.stderr)
        return 2

    command_line = ".venv/bin/python bench/run.py " + shlex.join(
        [str(part) for part in (argv if argv is not None else sys.argv[1:])]
    )
    work = Path(tempfile.mkdtemp(prefix="hullcheck-bench-"))
    lab = Lab(work / "lab")
    # Other work on the machine slows both tools unevenly, so the page shows the load.
    load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    try:
        byte_compile()
        lab.start()
        specs = APPS[: arguments.images]
        logger.info("building %d images", len(specs))
        estate = build_estate(lab, work / PROJECT, specs)
        logger.info("starting the Compose project (%.0f s so far)", time.monotonic() - started)
        compose(estate, "up", "-d")
        bench = Bench(estate, work, write_counting_trivy(work / "bin"))
        outcome = run_scenarios(
            bench,
            specs,
            changed=arguments.changed,
            default_scanners_loop=not arguments.skip_secret_loop,
            profile=arguments.profile,
        )
        facts = estate_facts(estate, outcome, work / "data-1")
        loop_commands, hullcheck_commands = documented_commands()
        previous = arguments.out.read_text(encoding="utf-8") if arguments.out.exists() else None
        machine = machine_facts()
        machine["load average (1 min) at start and end"] = (
            f"{load_at_start:.2f} and {os.getloadavg()[0]:.2f}"
        )
        page = render(
            outcome,
            machine=machine,
            estate=facts,
            command_line=command_line.strip(),
            measured_at=datetime.now(UTC),
            loop_commands=loop_commands,
            hullcheck_commands=hullcheck_commands,
            notes=carried_notes(previous),
            profiled=arguments.profile,
        )
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(page, encoding="utf-8")
        if arguments.json:
            raw = {
                "results": [result.to_json() for result in outcome.results],
                "changed": outcome.changed,
            }
            arguments.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
        logger.info("wrote %s after %.0f s", arguments.out, time.monotonic() - started)
    finally:
        lab.stop(remove_root=True)
        if arguments.keep:
            logger.info("kept the work directory %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
