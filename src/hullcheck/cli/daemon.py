"""``hullcheck daemon``: run a hullcheck command on a cron schedule."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from hullcheck.cli.common import fail
from hullcheck.config import setting
from hullcheck.errors import HullcheckError, Interrupted
from hullcheck.scheduler import Schedule, run_forever

logger = logging.getLogger(__name__)

DEFAULT_JOB = ("update",)


def daemon_command(
    context: typer.Context,
    schedule: Annotated[str, setting("schedule").option()] = str(setting("schedule").default),
    timezone: Annotated[str, setting("timezone").option()] = str(setting("timezone").default),
    run_at_start: Annotated[bool, setting("run_at_start").option()] = False,
) -> None:
    """Run a command (default: update) on a cron schedule, e.g. -- scan /srv/immich.

    Arguments after the options (or after --) form the command to run. The config file
    and the environment apply to each run as they do on the command line.
    """
    from hullcheck.cli.main import get_app

    try:
        parsed = Schedule.parse(schedule, timezone)
    except HullcheckError as error:
        fail(error)
    job_arguments = list(context.args) or list(DEFAULT_JOB)
    logger.info(
        "hullcheck daemon started: 'hullcheck %s' on '%s' (%s)",
        " ".join(job_arguments),
        schedule,
        timezone,
    )

    running = [False]

    def job() -> int:
        running[0] = True
        try:
            result = get_app()(args=job_arguments, prog_name="hullcheck", standalone_mode=False)
        except typer.Exit as stop:
            result = stop.exit_code
        finally:
            running[0] = False
        return int(result or 0)

    try:
        run_forever(job, parsed, run_at_start=run_at_start)
    except Interrupted as interruption:
        if running[0]:
            # The run recorded itself as interrupted; main() turns this into exit code 130.
            logger.warning("hullcheck daemon stopped by %s during a run", interruption)
            raise
        logger.info("hullcheck daemon stopped by %s while idle", interruption)
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    app.command(
        "daemon",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(daemon_command)
