"""Pieces shared by the commands: discovery options, error output, progress."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import docker
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from hullcheck.cli.console import debug_enabled, stderr_console
from hullcheck.config import setting, setting_value
from hullcheck.discovery.compose import discover_compose, find_compose_files
from hullcheck.discovery.models import DiscoveryProblem, DiscoveryResult, ProblemKind
from hullcheck.discovery.running import discover_running, merge_running
from hullcheck.engine import EngineError, connect
from hullcheck.errors import ConfigurationError, HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.exploitability import Exploitability, load_exploitability
from hullcheck.fileio import write_error
from hullcheck.lock import run_lock
from hullcheck.notification.models import NewTagEvent
from hullcheck.orchestrator import ProgressCallback, ProgressEvent, Stage
from hullcheck.paths import cache_dir, data_dir
from hullcheck.run import RunRecord
from hullcheck.scanning.trivy import DbUpdate, TrivyOptions, TrivyScanner

logger = logging.getLogger(__name__)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"


PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Compose files or project directories (default: the compose file in the current directory).",
        show_default=False,
    ),
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file", help="File with variables for interpolation, in place of the project .env."
    ),
]
ProfileOption = Annotated[
    list[str] | None,
    typer.Option(
        "--profile", help="Activate a Compose profile (repeatable; COMPOSE_PROFILES also works)."
    ),
]
ProjectNameOption = Annotated[
    str | None,
    typer.Option("--project-name", "-p", help="Compose project name, as docker compose -p."),
]
RunningOption = Annotated[
    bool,
    typer.Option(
        "--running", help="Also discover running containers through the Docker Engine API."
    ),
]
# Options backed by a setting: flag, env var and help come from hullcheck.config.settings.
DockerHostOption = Annotated[str | None, setting("docker_host").option()]
ScanTimeoutOption = Annotated[float, setting("scan_timeout").option(min=1)]
TrivyOption = Annotated[str | None, setting("trivy").option()]
TrivyCacheOption = Annotated[Path | None, setting("trivy_cache").option()]
DbUpdateOption = Annotated[DbUpdate, setting("db_update").option()]
DbRepositoryOption = Annotated[list[str] | None, setting("db_repository").option()]
ScannersOption = Annotated[str, setting("scanners").option()]
HistoryDbOption = Annotated[Path | None, setting("history_db").option()]
KevUrlOption = Annotated[str | None, setting("kev_url").option()]
EpssUrlOption = Annotated[str | None, setting("epss_url").option()]
RisksFileOption = Annotated[Path | None, setting("risks_file").option()]


def exploitability(
    kev_url: str | None, epss_url: str | None, risks_file: Path | None
) -> Exploitability:
    """Load the KEV and EPSS feeds and the risk register for one run; a bad register is fatal."""
    try:
        loaded = load_exploitability(kev_url, epss_url, risks_file)
    except HullcheckError as error:
        fail(error)
    logger.debug("Exploitability data: %s", loaded.status_text)
    return loaded


NOTIFY_WHEN_DEFAULT = str(setting("notify_when").default)
NOTIFY_ON_DEFAULT = str(setting("notify_on").default)
NotifyUrlsOption = Annotated[list[str] | None, setting("notify_urls").option()]
NotifyWhenOption = Annotated[str, setting("notify_when").option()]
NotifyOnOption = Annotated[str, setting("notify_on").option()]
ReportUrlOption = Annotated[str | None, setting("report_url").option()]


def send_notifications(
    run: RunRecord,
    *,
    history_db: Path | None,
    urls: list[str] | None,
    when: str,
    notify_on: str,
    report_location: str | None,
    known_exploited: frozenset[str] = frozenset(),
    new_tags: Sequence[NewTagEvent] = (),
) -> None:
    """Notify the configured targets about a finished run; a failed delivery never fails the run.

    Each delivery, failed or not, is recorded on the run in the history.
    """
    if not urls:
        return
    from hullcheck.notification import NotificationError, NotifySettings, notify_run
    from hullcheck.storage import HistoryStore

    try:
        settings = NotifySettings.from_values(urls, when, notify_on)
    except NotificationError as error:
        fail(error)
    with HistoryStore.open(history_db) as store:
        outcome = notify_run(
            run,
            settings,
            store=store,
            report_location=report_location,
            known_exploited=known_exploited,
            new_tags=new_tags,
        )
    logger.info("Notification: %s", outcome.reason)
    for result in outcome.results:
        if not result.success:
            say(
                f"[yellow]warning:[/] notification to {escape(result.target)} failed: {escape(result.error or 'no reason given')}"
            )


def build_scanner(
    *,
    scan_timeout: float,
    trivy: str | None,
    trivy_cache: Path | None,
    db_update: DbUpdate,
    db_repository: list[str] | None,
    scanners: str,
    docker_host: str | None,
) -> TrivyScanner:
    """Build the Trivy scanner from the shared command-line options."""
    options = TrivyOptions(
        cache_dir=trivy_cache or cache_dir() / "trivy",
        binary=trivy,
        timeout_seconds=scan_timeout,
        scanners=tuple(part.strip() for part in scanners.split(",") if part.strip()),
        db_update=db_update,
        db_repositories=tuple(db_repository or ()),
        docker_host=docker_host,
    )
    return TrivyScanner(options)


def fail(error: HullcheckError | str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print one line (plus a hint) on stderr and exit; the traceback only with --debug."""
    if isinstance(error, HullcheckError):
        say(f"[bold red]error:[/] {escape(error.message)}")
        if error.hint:
            say(f"[yellow]hint:[/] {escape(error.hint)}")
        if debug_enabled():
            stderr_console.print_exception()
    else:
        say(f"[bold red]error:[/] {escape(error)}")
    raise typer.Exit(int(code))


def say(markup: str) -> None:
    """Print one message line on stderr without wrapping it, so it stays greppable."""
    stderr_console.print(markup, highlight=False, soft_wrap=True)


def print_problems(problems: Sequence[DiscoveryProblem]) -> None:
    for problem in problems:
        say(f"[yellow]warning:[/] {escape(problem.message)}")


def discover(
    paths: Sequence[Path] | None,
    *,
    env_file: Path | None,
    profiles: Sequence[str] | None,
    project_name: str | None,
    running: bool,
    docker_host: str | None,
    need_engine: bool,
) -> tuple[DiscoveryResult, docker.DockerClient | None, str | None]:
    """Discover services from compose paths and, with ``running``, from the engine.

    Returns the result, an engine client (None when unreachable) and the engine error.
    """
    compose_paths = list(paths or [])
    if not compose_paths and not running:
        compose_paths = [Path(path).expanduser() for path in setting_value("stacks")]
    if not compose_paths and not running:
        if not find_compose_files(Path.cwd()):
            fail(
                HullcheckError(
                    f"no compose file in {Path.cwd()}",
                    hint="pass a compose file or project directory, or use --running",
                )
            )
        compose_paths = [Path.cwd()]
    for path in compose_paths:
        if not path.exists():
            fail(
                HullcheckError(
                    f"path not found: {path}", hint="pass an existing compose file or directory"
                )
            )

    result = DiscoveryResult()
    if compose_paths:
        try:
            result = discover_compose(
                compose_paths,
                env_file=env_file,
                profiles=list(profiles or []),
                environ=dict(os.environ),
                project_name=project_name,
            )
        except HullcheckError as error:
            fail(error)
        if not result.services and result.all_problems():
            # Nothing to check at all: the input is broken, not one service of it.
            print_problems(result.all_problems())
            fail(
                HullcheckError(
                    "no service could be read from the compose files", hint="fix the problems above"
                )
            )
        if not result.services and not running:
            # A misspelt "services:" key gives no error in YAML, and a weekly run that
            # checks nothing must not end in success.
            files = ", ".join(str(path) for project in result.projects for path in project.files)
            fail(
                HullcheckError(
                    f"no service defined in {files or 'the compose files'}",
                    hint="define the services under the top-level key 'services:' "
                    "and check its spelling",
                )
            )

    client = None
    engine_error = None
    if running or need_engine:
        try:
            client = connect(docker_host)
        except ConfigurationError as error:
            fail(error)
        except EngineError as error:
            if running:
                fail(error)
            # Reported once, with the other discovery problems.
            engine_error = str(error)
            result.problems.append(
                DiscoveryProblem(
                    kind=ProblemKind.ENGINE_UNAVAILABLE, message=str(error), blocks_deploy=False
                )
            )
    if client is not None:
        running_result = discover_running(client)
        result = merge_running(result, running_result, include_unmatched=running)
    return result, client, engine_error


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[ProgressCallback]:
    """Yield a progress callback that draws a Rich progress bar on stderr."""
    if not enabled:
        yield lambda event: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=stderr_console, transient=True) as bar:
        task = bar.add_task("Discovering", total=None)

        def on_event(event: ProgressEvent) -> None:
            labels = {
                Stage.RESOLVE: "Resolving",
                Stage.PULL: "Pulling",
                Stage.PREPARE: "Preparing",
                Stage.SCAN: "Scanning",
                Stage.DEPLOY: "Recreating",
                Stage.DONE: "Done",
            }
            total = event.total or None
            bar.update(
                task,
                description=f"{labels[event.stage]} {event.subject}",
                total=total,
                completed=max(event.index - 1, 0) if total else 0,
            )

        yield on_event


@contextmanager
def hold_run_lock(command: str) -> Iterator[None]:
    """Hold the run lock of the data directory for the block.

    Writing the holder into the lock file fails on a full disk, and that OSError becomes
    an OutputError naming the file and the fix. Errors of the block pass through as they are.
    """
    path = data_dir() / "run.lock"
    with ExitStack() as stack:
        try:
            stack.enter_context(run_lock(path, command))
        except OSError as error:
            raise write_error(path, error) from error
        yield
