"""``hullcheck demo``: bring up the demo lab and scan an Immich-shaped stack in it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hullcheck.cli.common import fail, progress_reporter, say
from hullcheck.cli.console import report_console, stderr_console
from hullcheck.cli.scan import exit_code_for, write_run_reports
from hullcheck.errors import ConfigurationError, HullcheckError
from hullcheck.paths import data_dir
from hullcheck.reporting import DEFAULT_SEVERITIES, render_table

LAB_PROGRAMS = ("dockerd", "docker-registry", "docker-compose", "busybox")


def check_prerequisites() -> None:
    """Fail early with the fix when the demo cannot start its lab here."""
    missing = [name for name in LAB_PROGRAMS if shutil.which(name) is None]
    if missing:
        raise ConfigurationError(
            f"the demo lab needs {', '.join(missing)}, which are not installed",
            hint="run scripts/bootstrap (it installs docker.io, docker-registry, docker-compose, busybox-static)",
        )
    if os.geteuid() != 0:
        raise ConfigurationError(
            "the demo lab starts its own dockerd, which needs root",
            hint="run it as root, e.g. sudo scripts/run-main",
        )


def demo_command(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the lab running and print how to reach it.")
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir", help="Directory for the lab data (default: a new temporary one)."
        ),
    ] = None,
) -> None:
    """Start a private dockerd and registry, deploy an Immich-shaped stack, and scan it."""
    from hullcheck.lab.demo import run_demo
    from hullcheck.lab.services import Lab

    try:
        check_prerequisites()
    except HullcheckError as error:
        fail(error)

    directory = workdir or Path(tempfile.mkdtemp(prefix="hullcheck-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    lab = Lab(directory / "lab")
    # Demo runs get their own history, so they never mix with the history of real stacks.
    demo_data = data_dir() / "demo"
    stop_lab = not keep
    try:
        stderr_console.print("Starting the demo lab (private dockerd and registry on 127.0.0.1)...")
        lab.start()
        with progress_reporter(stderr_console.is_terminal) as on_progress:
            result = run_demo(
                lab, directory, history_db=demo_data / "history.db", progress=on_progress
            )
        reports = write_run_reports(result.run, DEFAULT_SEVERITIES, demo_data / "reports")
        render_table(result.run, report_console(), severities=DEFAULT_SEVERITIES)
        say(f"Reports: {', '.join(str(path) for path in reports)}")
        say(f"History: hullcheck history --db {result.history_db}")
        if keep:
            say(f"Compose file: {result.compose_file}")
            say(
                f"The lab is still running: DOCKER_HOST={lab.docker_host}, registry {lab.registry}. "
                f"Stop it with: kill {' '.join(str(pid) for pid in lab.process_ids())}"
            )
    except HullcheckError as error:
        stop_lab = True
        fail(error)
    except BaseException:
        # An interrupted or broken demo must not leave its dockerd behind.
        stop_lab = True
        raise
    finally:
        if stop_lab:
            lab.stop()
            if workdir is None:
                shutil.rmtree(directory, ignore_errors=True)
    raise typer.Exit(int(exit_code_for(result.run, None)))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
