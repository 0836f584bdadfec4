"""``hullcheck recheck``: match stored SBOMs against the current DB and list new findings."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.cli.common import (
    DbRepositoryOption,
    DbUpdateOption,
    HistoryDbOption,
    ScannersOption,
    ScanTimeoutOption,
    TrivyCacheOption,
    TrivyOption,
    build_scanner,
    fail,
    progress_reporter,
)
from hullcheck.cli.console import report_console, stderr_console
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.paths import data_dir
from hullcheck.recheck import RecordWithChanges, run_recheck
from hullcheck.run import REPORT_SCHEMA_VERSION, RunStatus
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import DbUpdate
from hullcheck.storage import HistoryStore


def render_recheck_json(result: RecordWithChanges) -> str:
    run = result.record
    changes = {change.image_id: change for change in result.changes}
    images = []
    for scan in run.images:
        change = changes.get(scan.image_id)
        images.append(
            {
                "image": scan.image,
                "image_id": scan.image_id,
                "status": scan.status.value,
                "reason": scan.reason,
                "severity_counts": scan.findings.counts().model_dump() if scan.findings else None,
                "new": change.new if change else [],
                "resolved": change.resolved if change else [],
            }
        )
    database = run.scanner.database if run.scanner else None
    document = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "run": {"id": run.run_id, "status": run.status.value, "error": run.error},
        "db_updated_at": database.updated_at.isoformat()
        if database and database.updated_at
        else None,
        "images": images,
    }
    return json.dumps(document, indent=2) + "\n"


def render_recheck_table(result: RecordWithChanges, console: Console) -> None:
    changes = {change.image_id: change for change in result.changes}
    table = Table(
        title="Findings new since the last scan (stored SBOMs, current DB)", title_justify="left"
    )
    for column in ("Image", "Status", "New", "No longer matched"):
        table.add_column(column, overflow="fold")
    for scan in result.record.images:
        change = changes.get(scan.image_id)
        status = scan.status.value if scan.reason is None else f"{scan.status.value}: {scan.reason}"
        table.add_row(
            Text(scan.image),
            Text(status),
            Text(", ".join(change.new) if change and change.new else "-"),
            Text(", ".join(change.resolved) if change and change.resolved else "-"),
        )
    console.print(table)


def recheck_command(
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    scan_timeout: ScanTimeoutOption = 1800.0,
    trivy: TrivyOption = None,
    trivy_cache: TrivyCacheOption = None,
    db_update: DbUpdateOption = DbUpdate.AUTO,
    db_repository: DbRepositoryOption = None,
    scanners: ScannersOption = "vuln",
    history_db: HistoryDbOption = None,
) -> None:
    """Match the SBOMs stored at the last scan against the current DB; no pull, no image analysis."""
    if output_format not in ("table", "json"):
        fail(HullcheckError(f"invalid --format {output_format!r}", hint="use table or json"))
    scanner = build_scanner(
        scan_timeout=scan_timeout,
        trivy=trivy,
        trivy_cache=trivy_cache,
        db_update=db_update,
        db_repository=db_repository,
        scanners=scanners,
        docker_host=None,
    )
    try:
        with HistoryStore.open(history_db) as store:
            previous = next(
                (
                    store.load_run(s.run_id)
                    for s in store.list_runs(limit=50)
                    if s.command in ("scan", "demo")
                    and s.status in (RunStatus.COMPLETE, RunStatus.PARTIAL)
                ),
                None,
            )
            if previous is None:
                fail(
                    HullcheckError(
                        "no earlier scan in the history", hint="run hullcheck scan first"
                    )
                )
            with progress_reporter(stderr_console.is_terminal) as on_progress:
                result = run_recheck(
                    previous,
                    scanner=scanner,
                    reuse=ScanReuse(store, data_dir() / "sboms"),
                    store=store,
                    progress=on_progress,
                )
    except HullcheckError as error:
        fail(error)

    if output_format == "json":
        typer.echo(render_recheck_json(result), nl=False)
    else:
        render_recheck_table(result, report_console())
    if result.record.error:
        fail(HullcheckError(result.record.error), ExitCode.SCAN_FAILED)
    raise typer.Exit(
        int(ExitCode.SCAN_FAILED if result.record.failed_images() else ExitCode.SUCCESS)
    )


def register(app: typer.Typer) -> None:
    app.command("recheck")(recheck_command)
