"""``hullcheck accept`` and ``hullcheck risks``: keep the risk register from the command line."""

from __future__ import annotations

import getpass
import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.analysis.models import Acceptance, VexJustification
from hullcheck.analysis.risks import RiskStatus, new_acceptance, scope_text, status_of
from hullcheck.analysis.risks_export import ExportResult, export_openvex, export_trivyignore
from hullcheck.analysis.risks_file import add_to_register, default_risks_path, load_register
from hullcheck.cli.console import debug_enabled, stderr_console
from hullcheck.config import setting, setting_value
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.fileio import write_atomic

RISKS_SCHEMA_VERSION = 1
"""Version of the ``risks --format json`` layout. Raise it on any incompatible change."""

RisksFileOption = Annotated[Path | None, setting("risks_file").option("--file")]


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class ExportFormat(StrEnum):
    OPENVEX = "openvex"
    TRIVYIGNORE = "trivyignore"


risks_app = typer.Typer(
    help="List the accepted risks, or export them for other tools.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def accept_command(
    vulnerability_id: Annotated[
        str,
        typer.Argument(
            metavar="VULN_ID",
            help="Vulnerability ID as the report shows it, e.g. CVE-2023-4911.",
            show_default=False,
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the risk is acceptable.", show_default=False)
    ],
    expires: Annotated[
        str,
        typer.Option(
            "--expires",
            help="ISO date (YYYY-MM-DD) on which the acceptance ends; must be after today.",
            show_default=False,
        ),
    ],
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="REF",
            help="Accept only in this image: 'nginx' covers every tag, 'nginx:1.27' one tag.",
        ),
    ] = None,
    package: Annotated[
        str | None,
        typer.Option(
            "--package",
            metavar="NAME|PURL",
            help="Accept only in this package: a name as the report shows it, or a package "
            "URL such as pkg:deb/debian/zlib1g (needed for the trivyignore export).",
        ),
    ] = None,
    justification: Annotated[
        VexJustification | None,
        typer.Option(
            "--justification",
            help="State that the image is not affected, for this OpenVEX reason; the "
            "OpenVEX export then says not_affected instead of affected.",
        ),
    ] = None,
    accepted_by: Annotated[
        str | None,
        typer.Option("--by", help="Who accepts the risk (default: the login name)."),
    ] = None,
    risks_file: RisksFileOption = None,
) -> None:
    """Accept a vulnerability until a date: it stays in reports but stops failing runs."""
    try:
        path = _register_path(risks_file, create=True)
        acceptance = new_acceptance(
            vulnerability_id,
            reason=reason,
            expires=expires,
            today=date.today(),
            image=image,
            package=package,
            justification=justification,
            accepted_by=accepted_by or _login_name(),
        )
        add_to_register(path, acceptance, today=date.today())
    except HullcheckError as error:
        _fail(error)
    stderr_console.print(
        Text(
            f"Accepted {acceptance.vulnerability_id} for {scope_text(acceptance)} until "
            f"{acceptance.expires.isoformat()} in {path}."
        ),
        soft_wrap=True,
    )


@risks_app.callback()
def risks_command(
    context: typer.Context,
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format: table or json.")
    ] = ListFormat.TABLE,
    expired: Annotated[
        bool, typer.Option("--expired", help="List only the expired entries.")
    ] = False,
    risks_file: RisksFileOption = None,
) -> None:
    """List the accepted risks with their status: active or expired."""
    context.obj = risks_file
    if context.invoked_subcommand is not None:
        return
    today = date.today()
    try:
        path = _register_path(risks_file, create=False)
        entries = load_register(path)
    except HullcheckError as error:
        _fail(error)
    if expired:
        entries = [entry for entry in entries if entry.expired(today)]

    if output_format is ListFormat.JSON:
        typer.echo(render_risks_json(entries, path, today))
        return
    if not entries:
        subject = "expired entries" if expired else "accepted risks"
        stderr_console.print(Text(f"No {subject} in {path}."), soft_wrap=True)
        return
    render_risks_table(entries, path, today, Console())


@risks_app.command("export")
def export_command(
    context: typer.Context,
    export_format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="openvex (JSON) or trivyignore (.trivyignore.yaml)."),
    ],
    images: Annotated[
        list[str] | None,
        typer.Option(
            "--image",
            metavar="REF",
            help="Image the export is for (repeatable for openvex, once for trivyignore). "
            "Entries for all images name these images as products.",
        ),
    ] = None,
    author: Annotated[
        str | None,
        typer.Option("--author", help="OpenVEX author: a person, team or e-mail address."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    risks_file: RisksFileOption = None,
) -> None:
    """Export the active acceptances as OpenVEX or as a Trivy ignore file."""
    today = date.today()
    chosen = list(images or [])
    try:
        path = _register_path(risks_file or context.obj, create=False)
        entries = load_register(path)
        if export_format is ExportFormat.OPENVEX:
            result = export_openvex(
                entries, author=author or _login_name() or "unknown", today=today, images=chosen
            )
        else:
            if len(chosen) > 1:
                raise HullcheckError(
                    "a trivyignore export takes at most one --image",
                    hint="export one file per image, since Trivy applies it to every scan",
                )
            result = export_trivyignore(entries, today=today, image=chosen[0] if chosen else None)
        _write(result, output)
    except HullcheckError as error:
        _fail(error)


def render_risks_json(entries: list[Acceptance], path: Path, today: date) -> str:
    document = {
        "schema_version": RISKS_SCHEMA_VERSION,
        "file": str(path),
        "today": today.isoformat(),
        "risks": [_entry_object(entry, today) for entry in entries],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def render_risks_table(
    entries: list[Acceptance], path: Path, today: date, console: Console
) -> None:
    # Cells are Text objects, so brackets in reasons or references are never read as markup.
    table = Table(title=Text(f"Accepted risks in {path}"), title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("Scope")
    table.add_column("Expires", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Reason")
    table.add_column("Accepted", no_wrap=True)
    for entry in entries:
        status = status_of(entry, today)
        style = "yellow" if status is RiskStatus.EXPIRED else "green"
        accepted = " by ".join(
            part
            for part in (
                entry.accepted_on.isoformat() if entry.accepted_on else None,
                entry.accepted_by,
            )
            if part
        )
        table.add_row(
            Text(entry.vulnerability_id),
            Text(scope_text(entry)),
            Text(entry.expires.isoformat()),
            Text(status.value, style=style),
            Text(entry.reason),
            Text(accepted or "-"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("accept")(accept_command)
    app.add_typer(risks_app, name="risks")


def _entry_object(entry: Acceptance, today: date) -> dict[str, object]:
    return {
        "id": entry.vulnerability_id,
        "image": entry.image,
        "package": entry.package,
        "scope": scope_text(entry),
        "reason": entry.reason,
        "expires": entry.expires.isoformat(),
        "status": status_of(entry, today).value,
        "days_left": max((entry.expires - today).days, 0),
        "justification": entry.justification.value if entry.justification else None,
        "accepted_on": entry.accepted_on.isoformat() if entry.accepted_on else None,
        "accepted_by": entry.accepted_by,
    }


def _register_path(option: Path | None, *, create: bool) -> Path:
    """Return the register: the option, else the config file's risks_file, else the default."""
    if option is not None:
        return option.expanduser()
    configured = setting_value("risks_file")
    if configured:
        return Path(str(configured)).expanduser()
    return default_risks_path(create=create)


def _write(result: ExportResult, output: Path | None) -> None:
    for skipped in result.skipped:
        stderr_console.print(
            Text.assemble(
                ("skipped: ", "yellow"),
                f"{skipped.acceptance.vulnerability_id} for {scope_text(skipped.acceptance)}: "
                f"{skipped.reason}",
            ),
            soft_wrap=True,
        )
    if output is None:
        typer.echo(result.text, nl=False)
        return
    # Exports are meant to be shared with other tools, so they are not private.
    write_atomic(output, result.text, mode=0o644)
    stderr_console.print(Text(f"Wrote {output}."), soft_wrap=True)


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _fail(error: HullcheckError) -> NoReturn:
    """Print the error and its hint on stderr, each on one unwrapped line, and exit."""
    stderr_console.print(Text.assemble(("error: ", "bold red"), error.message), soft_wrap=True)
    if error.hint:
        stderr_console.print(Text.assemble(("hint: ", "yellow"), error.hint), soft_wrap=True)
    if debug_enabled():
        stderr_console.print_exception()
    raise typer.Exit(int(ExitCode.USAGE))
