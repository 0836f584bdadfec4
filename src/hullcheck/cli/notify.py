"""``hullcheck notify``: send a test message, or send a stored run's notification again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.text import Text

from hullcheck.cli.console import debug_enabled, stderr_console
from hullcheck.config import setting
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.notification import DeliveryResult, NotifySettings, notify_run, send_test
from hullcheck.notification.delivery import Deliverer
from hullcheck.storage import HistoryStore, default_history_path


def notify_command(
    test: Annotated[
        bool, typer.Option("--test", help="Send a short test message to every target.")
    ] = False,
    run_id: Annotated[
        int | None,
        typer.Option(
            "--run",
            min=1,
            help="Send the notification of this stored run again (see `hullcheck history`).",
        ),
    ] = None,
    notify_urls: Annotated[list[str] | None, setting("notify_urls").option("--url")] = None,
    notify_on: Annotated[str, setting("notify_on").option()] = str(setting("notify_on").default),
    report_url: Annotated[str | None, setting("report_url").option()] = None,
    history_db: Annotated[Path | None, setting("history_db").option()] = None,
) -> None:
    """Send a test message, or a stored run's notification, to every notification target.

    Prints one line per target. Exits with 2 when any target failed.
    """
    if test == (run_id is not None):
        _fail(
            HullcheckError("pass either --test or --run RUN_ID", hint="see hullcheck notify --help")
        )
    try:
        settings = NotifySettings.from_values(notify_urls, notify_on=notify_on)
    except HullcheckError as error:
        _fail(error)
    if not settings.urls:
        _fail(
            HullcheckError(
                "no notification target is configured",
                hint="pass --url URL, or set HULLCHECK_NOTIFY_URLS or notify_urls in the config",
            )
        )

    deliverer = Deliverer(settings.discord)
    if test:
        results: Sequence[DeliveryResult] = send_test(settings.urls, deliverer=deliverer)
    else:
        assert run_id is not None
        results = _resend(run_id, settings, deliverer, report_url, history_db)
    _print_results(results)


def _resend(
    run_id: int,
    settings: NotifySettings,
    deliverer: Deliverer,
    report_url: str | None,
    history_db: Path | None,
) -> Sequence[DeliveryResult]:
    try:
        path = history_db if history_db is not None else default_history_path(create=False)
        with HistoryStore.open(path, create=False) as store:
            run = store.load_run(run_id)
            # A re-sent run leaves the notification state alone, so that sending an old run
            # again does not make the next run's news look old.
            outcome = notify_run(
                run,
                settings,
                store=store,
                report_location=report_url,
                deliverer=deliverer,
                force=True,
                remember=False,
            )
    except HullcheckError as error:
        _fail(error)
    if outcome.storage_error:
        stderr_console.print(Text(f"warning: {outcome.storage_error}", style="yellow"))
    return outcome.results


def _print_results(results: Sequence[DeliveryResult]) -> None:
    for result in results:
        if result.success:
            unit = "message" if result.messages == 1 else "messages"
            typer.echo(f"sent    {result.target} ({result.messages} {unit})")
        else:
            typer.echo(f"failed  {result.target}: {result.error or 'no reason given'}")
    failed = [result for result in results if not result.success]
    if failed:
        stderr_console.print(
            Text(f"{len(failed)} of {len(results)} notification targets failed", style="red"),
            soft_wrap=True,
        )
        raise typer.Exit(int(ExitCode.USAGE))


def _fail(error: HullcheckError) -> NoReturn:
    """Print the error and its hint on stderr, each on one unwrapped line, and exit with 2."""
    stderr_console.print(Text.assemble(("error: ", "bold red"), error.message), soft_wrap=True)
    if error.hint:
        stderr_console.print(Text.assemble(("hint: ", "yellow"), error.hint), soft_wrap=True)
    if debug_enabled():
        stderr_console.print_exception()
    raise typer.Exit(int(ExitCode.USAGE))


def register(app: typer.Typer) -> None:
    app.command("notify")(notify_command)
