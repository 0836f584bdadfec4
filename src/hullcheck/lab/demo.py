"""The demo: an Immich-shaped stack on the lab, brought up with Compose and scanned."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.discovery.compose import discover_compose
from hullcheck.discovery.running import discover_running, merge_running
from hullcheck.lab.services import Lab
from hullcheck.lab.stack import write_immich_stack
from hullcheck.lab.trivydb import build_trivy_db
from hullcheck.orchestrator import ProgressCallback, run_scan
from hullcheck.run import RunRecord
from hullcheck.scanning.trivy import DbUpdate, TrivyOptions, TrivyScanner
from hullcheck.storage import HistoryStore

logger = logging.getLogger(__name__)

DEMO_PROJECT = "immich"


@dataclass
class DemoResult:
    run: RunRecord
    compose_file: Path
    history_db: Path


def run_demo(
    lab: Lab, workdir: Path, *, history_db: Path, progress: ProgressCallback | None = None
) -> DemoResult:
    """Publish the demo images, start the stack, and scan it offline with the fixture DB."""
    cache = workdir / "trivy-cache"
    build_trivy_db(cache)
    logger.info("Built the fixture Trivy DB in %s", cache)

    compose_file = write_immich_stack(workdir / DEMO_PROJECT, lab)
    run_compose([compose_file], ["up", "-d"], project=DEMO_PROJECT, env=lab.env())
    logger.info("Started the %s stack from %s", DEMO_PROJECT, compose_file)

    client = lab.client()
    discovery = discover_compose([compose_file], environ={}, project_name=DEMO_PROJECT)
    discovery = merge_running(discovery, discover_running(client), include_unmatched=False)

    scanner = TrivyScanner(
        TrivyOptions(cache_dir=cache, db_update=DbUpdate.SKIP, docker_host=lab.docker_host)
    )
    with HistoryStore.open(history_db) as store:
        run = run_scan(
            discovery,
            command="demo",
            scanner=scanner,
            client=client,
            store=store,
            progress=progress,
        )
    return DemoResult(run=run, compose_file=compose_file, history_db=history_db)
