"""``hullcheck scan``: discover, scan every unique image with Trivy, report and store the run."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hullcheck.analysis.models import Severity
from hullcheck.cli.common import (
    NOTIFY_ON_DEFAULT,
    NOTIFY_WHEN_DEFAULT,
    DbRepositoryOption,
    DbUpdateOption,
    DockerHostOption,
    EnvFileOption,
    EpssUrlOption,
    HistoryDbOption,
    KevUrlOption,
    NotifyOnOption,
    NotifyUrlsOption,
    NotifyWhenOption,
    OutputFormat,
    PathsArgument,
    ProfileOption,
    ProjectNameOption,
    ReportUrlOption,
    RisksFileOption,
    RunningOption,
    ScannersOption,
    ScanTimeoutOption,
    TrivyCacheOption,
    TrivyOption,
    build_scanner,
    discover,
    exploitability,
    fail,
    hold_run_lock,
    print_problems,
    progress_reporter,
    say,
    send_notifications,
)
from hullcheck.cli.console import report_console, stderr_console
from hullcheck.config import setting
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.exploitability import expired_problems
from hullcheck.fileio import write_atomic
from hullcheck.orchestrator import run_scan
from hullcheck.paths import data_dir, reports_dir
from hullcheck.reporting import parse_severity_list, render_json, render_markdown, render_table
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import DbUpdate
from hullcheck.storage import HistoryStore, RunSummary

logger = logging.getLogger(__name__)

DEFAULT_SEVERITY_OPTION = str(setting("severity").default)


def exit_code_for(
    run: RunRecord, fail_on: Severity | None, *, fixable_only: bool = False
) -> ExitCode:
    """Failed scans outrank findings: a report with holes must not look like a policy verdict."""
    if run.status is RunStatus.FAILED or run.failed_images():
        return ExitCode.SCAN_FAILED
    if fail_on is not None and run.reaches(fail_on, fixable_only=fixable_only):
        return ExitCode.FINDINGS
    return ExitCode.SUCCESS


def write_run_reports(
    run: RunRecord,
    severities: tuple[Severity, ...],
    directory: Path | None = None,
    *,
    json_text: str | None = None,
) -> list[Path]:
    """Store the JSON and Markdown reports of a run (default: under the data directory).

    ``json_text`` is the JSON report already rendered with the same severities, if any.
    """
    directory = directory or reports_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = (
        f"run-{run.run_id:06d}" if run.run_id is not None else f"run-{run.started_at:%Y%m%dT%H%M%S}"
    )
    written = []
    for suffix, text in (
        (".json", json_text or render_json(run, severities=severities)),
        (".md", render_markdown(run, severities=severities)),
    ):
        path = directory / f"{stem}{suffix}"
        write_atomic(path, text)
        written.append(path)
    return written


def scan_command(
    paths: PathsArgument = None,
    env_file: EnvFileOption = None,
    profile: ProfileOption = None,
    project_name: ProjectNameOption = None,
    running: RunningOption = False,
    docker_host: DockerHostOption = None,
    severity: Annotated[str, setting("severity").option()] = DEFAULT_SEVERITY_OPTION,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format on stdout or in --output.")
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    fail_on: Annotated[Severity | None, setting("fail_on").option()] = None,
    scan_timeout: ScanTimeoutOption = 1800.0,
    trivy: TrivyOption = None,
    trivy_cache: TrivyCacheOption = None,
    db_update: DbUpdateOption = DbUpdate.AUTO,
    db_repository: DbRepositoryOption = None,
    scanners: ScannersOption = "vuln",
    hide_unfixed: Annotated[
        bool,
        typer.Option(
            "--hide-unfixed",
            help="Leave out findings with no fixed version (affected, will_not_fix, fix_deferred, end_of_life) from the detail and from --fail-on.",
        ),
    ] = False,
    rescan: Annotated[
        bool,
        typer.Option(
            "--rescan",
            help="Analyse every image again instead of reusing results of the same image and DB.",
        ),
    ] = False,
    no_pull: Annotated[
        bool, typer.Option("--no-pull", help="Scan only images already on the engine.")
    ] = False,
    history_db: HistoryDbOption = None,
    notify_urls: NotifyUrlsOption = None,
    notify_when: NotifyWhenOption = NOTIFY_WHEN_DEFAULT,
    notify_on: NotifyOnOption = NOTIFY_ON_DEFAULT,
    report_url: ReportUrlOption = None,
    kev_url: KevUrlOption = None,
    epss_url: EpssUrlOption = None,
    risks_file: RisksFileOption = None,
) -> None:
    """Scan the images of Compose stacks (or running containers) with Trivy."""
    try:
        severities = parse_severity_list(severity)
    except HullcheckError as error:
        fail(error)

    discovery, client, engine_error = discover(
        paths,
        env_file=env_file,
        profiles=profile,
        project_name=project_name,
        running=running,
        docker_host=docker_host,
        need_engine=True,
    )
    print_problems(discovery.all_problems())

    scanner = build_scanner(
        scan_timeout=scan_timeout,
        trivy=trivy,
        trivy_cache=trivy_cache,
        db_update=db_update,
        db_repository=db_repository,
        scanners=scanners,
        docker_host=docker_host,
    )

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold_run_lock("scan"))
            store = stack.enter_context(HistoryStore.open(history_db))
        except HullcheckError as error:
            fail(error)
        risk = exploitability(kev_url, epss_url, risks_file)
        on_progress = stack.enter_context(progress_reporter(stderr_console.is_terminal))
        run = run_scan(
            discovery,
            command="scan",
            scanner=scanner,
            client=client,
            engine_error=engine_error,
            store=store,
            pull_missing=not no_pull,
            progress=on_progress,
            reuse=ScanReuse(store, data_dir() / "sboms", reuse_results=not rescan),
            enrich=risk.apply,
            feeds=risk.status_text,
            late_problems=lambda: expired_problems(risk),
        )

    try:
        history = None
        if output_format is OutputFormat.HTML:
            with HistoryStore.open(history_db) as store:
                history = store.list_runs(limit=30)
        # The requested report comes first, so a full data directory costs no output.
        # The run itself is already stored in the history.
        rendered = emit_report(
            run, output_format, output, severities, hide_unfixed=hide_unfixed, history=history
        )
        same_json = output_format is OutputFormat.JSON and not hide_unfixed
        written = write_run_reports(run, severities, json_text=rendered if same_json else None)
        for path in written:
            logger.info("Report written to %s", path)
    except HullcheckError as error:
        fail(error)

    send_notifications(
        run,
        history_db=history_db,
        urls=notify_urls,
        when=notify_when,
        notify_on=notify_on,
        report_location=report_url or str(written[-1]),
        known_exploited=risk.known_exploited,
    )

    if run.error:
        say(f"[bold red]error:[/] {escape(run.error)}")
    raise typer.Exit(int(exit_code_for(run, fail_on, fixable_only=hide_unfixed)))


def emit_report(
    run: RunRecord,
    output_format: OutputFormat,
    output: Path | None,
    severities: tuple[Severity, ...],
    *,
    hide_unfixed: bool = False,
    history: list[RunSummary] | None = None,
) -> str | None:
    """Print the report on stdout, or write it to ``output``; return the text, if not a table."""
    if output_format is OutputFormat.TABLE:
        if output is None:
            render_table(run, report_console(), severities=severities, hide_unfixed=hide_unfixed)
            return None
        recorder = Console(record=True, width=120, file=io.StringIO())
        render_table(run, recorder, severities=severities, hide_unfixed=hide_unfixed)
        write_atomic(output, recorder.export_text())
        return None
    if output_format is OutputFormat.HTML:
        from hullcheck.reporting.html import render_html  # Jinja2 only when asked for

        text = render_html(run, history=history, severities=severities, hide_unfixed=hide_unfixed)
    elif output_format is OutputFormat.JSON:
        text = render_json(run, severities=severities, hide_unfixed=hide_unfixed)
    else:
        text = render_markdown(run, severities=severities, hide_unfixed=hide_unfixed)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text)
    return text


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
