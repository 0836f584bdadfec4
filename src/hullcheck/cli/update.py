"""``hullcheck update``: the weekly update, with scan-before-deploy, policy and rollback."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

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
    send_notifications,
)
from hullcheck.cli.console import report_console, stderr_console
from hullcheck.config import setting
from hullcheck.deployment.models import Policy, UpdateAction
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.fileio import write_atomic
from hullcheck.notification.models import NewTagEvent
from hullcheck.paths import data_dir
from hullcheck.registry import RegistryClient, RegistrySettings, UpdateChecker
from hullcheck.reporting.updates import render_update_json, render_update_table
from hullcheck.run import RunRecord
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import DbUpdate, TrivyScanner
from hullcheck.storage import HistoryStore
from hullcheck.updater import UpdateOptions, run_update

logger = logging.getLogger(__name__)


def new_tag_events(run: RunRecord) -> list[NewTagEvent]:
    """Build one new-tag event per image whose series has a newer tag, for the notification."""
    events: dict[tuple[str, str], NewTagEvent] = {}
    for update in run.updates:
        if not update.newer_tags or update.image is None:
            continue
        repository, _, tag = update.image.partition("@")[0].rpartition(":")
        key = (repository, update.newer_tags[0])
        label = f"{update.project}/{update.service}"
        earlier = events.get(key)
        services = (*earlier.services, label) if earlier else (label,)
        events[key] = NewTagEvent(
            image=repository, current_tag=tag, new_tag=update.newer_tags[0], services=services
        )
    return list(events.values())


def update_exit_code(run: RunRecord) -> ExitCode:
    """Return the exit code: non-zero for a failed or rolled-back service, or a failed scan."""
    if any(u.action in (UpdateAction.FAILED, UpdateAction.ROLLED_BACK) for u in run.updates):
        return ExitCode.UPDATE_FAILED
    if run.failed_images():
        return ExitCode.SCAN_FAILED
    return ExitCode.SUCCESS


def update_command(
    paths: PathsArgument = None,
    env_file: EnvFileOption = None,
    profile: ProfileOption = None,
    project_name: ProjectNameOption = None,
    running: RunningOption = False,
    docker_host: DockerHostOption = None,
    policy: Annotated[Policy, setting("policy").option()] = Policy.AVAILABILITY,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Check registries and show what would happen; change nothing."
        ),
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table or json, on stdout or in --output.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    minimum_age: Annotated[float, setting("minimum_age").option(min=0)] = 0.0,
    health_timeout: Annotated[float, setting("health_timeout").option(min=1)] = 120.0,
    stable_seconds: Annotated[float, setting("stable_seconds").option(min=0)] = 10.0,
    insecure_registry: Annotated[list[str] | None, setting("insecure_registry").option()] = None,
    check_tags: Annotated[bool, setting("check_tags").option()] = True,
    registry_timeout: Annotated[float, setting("registry_timeout").option(min=1)] = 30.0,
    scan_timeout: ScanTimeoutOption = 1800.0,
    trivy: TrivyOption = None,
    trivy_cache: TrivyCacheOption = None,
    db_update: DbUpdateOption = DbUpdate.AUTO,
    db_repository: DbRepositoryOption = None,
    scanners: ScannersOption = "vuln",
    history_db: HistoryDbOption = None,
    notify_urls: NotifyUrlsOption = None,
    notify_when: NotifyWhenOption = NOTIFY_WHEN_DEFAULT,
    notify_on: NotifyOnOption = NOTIFY_ON_DEFAULT,
    report_url: ReportUrlOption = None,
    kev_url: KevUrlOption = None,
    epss_url: EpssUrlOption = None,
    risks_file: RisksFileOption = None,
) -> None:
    """Update deployed services whose tag moved: pull, scan old and new, apply the policy, recreate."""
    if output_format not in ("table", "json"):
        fail(HullcheckError(f"invalid --format {output_format!r}", hint="use table or json"))

    risk = exploitability(kev_url, epss_url, risks_file)
    try:
        with hold_run_lock("update"):
            run = _update(
                paths,
                env_file=env_file,
                profile=profile,
                project_name=project_name,
                running=running,
                docker_host=docker_host,
                options=UpdateOptions(
                    policy=policy,
                    dry_run=dry_run,
                    minimum_age=timedelta(hours=minimum_age),
                    health_timeout=health_timeout,
                    stable_seconds=stable_seconds,
                    compose_env={**os.environ, "DOCKER_HOST": docker_host} if docker_host else None,
                    known_exploited=risk.known_exploited,
                    enrich=risk.apply,
                    feeds=risk.status_text,
                ),
                check_tags=check_tags,
                registry=RegistrySettings(
                    insecure_registries=frozenset(insecure_registry or ()),
                    timeout_seconds=registry_timeout,
                ),
                scanner=build_scanner(
                    scan_timeout=scan_timeout,
                    trivy=trivy,
                    trivy_cache=trivy_cache,
                    db_update=db_update,
                    db_repository=db_repository,
                    scanners=scanners,
                    docker_host=docker_host,
                ),
                history_db=history_db,
            )
        send_notifications(
            run,
            history_db=history_db,
            urls=notify_urls,
            when=notify_when,
            notify_on=notify_on,
            report_location=report_url,
            known_exploited=risk.known_exploited,
            new_tags=new_tag_events(run),
        )
        if output_format == "json":
            text = render_update_json(run, dry_run=dry_run)
            if output is None:
                typer.echo(text, nl=False)
            else:
                write_atomic(output, text)
        else:
            render_update_table(run, report_console(), dry_run=dry_run)
    except HullcheckError as error:
        fail(error)
    raise typer.Exit(int(update_exit_code(run)))


def _update(
    paths: list[Path] | None,
    *,
    env_file: Path | None,
    profile: list[str] | None,
    project_name: str | None,
    running: bool,
    docker_host: str | None,
    options: UpdateOptions,
    check_tags: bool,
    registry: RegistrySettings,
    scanner: TrivyScanner,
    history_db: Path | None,
) -> RunRecord:
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
    if client is None:
        fail(
            HullcheckError(
                engine_error or "no Docker engine", hint="updates need the Docker engine"
            )
        )

    with (
        HistoryStore.open(history_db) as store,
        RegistryClient(registry) as registry_client,
        progress_reporter(stderr_console.is_terminal) as on_progress,
    ):
        options.reuse = ScanReuse(store, data_dir() / "sboms")
        if check_tags:
            options.tags_client = registry_client
        return run_update(
            discovery,
            client=client,
            checker=UpdateChecker(registry_client),
            scanner=scanner,
            options=options,
            store=store,
            progress=on_progress,
        )


def register(app: typer.Typer) -> None:
    app.command("update")(update_command)
