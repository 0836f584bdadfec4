"""``hullcheck advise``: scan newer tags and leaner variants of one image and compare them."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import docker
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hullcheck.advise import (
    ADVICE_SCHEMA_VERSION,
    Advice,
    AdvisedImage,
    AdviseError,
    AdviseOptions,
    AdviseTarget,
    run_advise,
)
from hullcheck.analysis.models import SEVERITIES, Severity, SeverityCounts
from hullcheck.cli.common import (
    DbRepositoryOption,
    DbUpdateOption,
    DockerHostOption,
    EnvFileOption,
    ProfileOption,
    ProjectNameOption,
    ScannersOption,
    ScanTimeoutOption,
    TrivyCacheOption,
    TrivyOption,
    build_scanner,
    discover,
    fail,
    print_problems,
    progress_reporter,
)
from hullcheck.cli.console import stderr_console
from hullcheck.config import setting
from hullcheck.discovery.compose import find_compose_files
from hullcheck.discovery.models import DiscoveryResult, InvalidReferenceError, ServiceImage
from hullcheck.discovery.references import parse_reference
from hullcheck.engine import EngineError, connect
from hullcheck.errors import HullcheckError
from hullcheck.exitcodes import ExitCode
from hullcheck.lock import run_lock
from hullcheck.paths import data_dir
from hullcheck.registry import RegistryClient, RegistrySettings
from hullcheck.reporting import parse_severity_list
from hullcheck.scanning.models import ScannerError, ScanStatus
from hullcheck.scanning.trivy import DbUpdate

logger = logging.getLogger(__name__)

_NO_VALUE = "-"


def advise_command(
    target: Annotated[
        str,
        typer.Argument(
            help="A compose service (SERVICE or PROJECT/SERVICE) or an image reference.",
            show_default=False,
        ),
    ],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Compose files or project directories to find SERVICE in "
            "(default: the compose file in the current directory, if any).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table or json, on stdout.")
    ] = "table",
    max_candidates: Annotated[
        int,
        typer.Option(
            "--max-candidates", min=0, help="Newer tags of the same series to scan, newest first."
        ),
    ] = 3,
    variants: Annotated[
        bool,
        typer.Option(
            "--variants/--no-variants",
            help="Also scan the alpine, slim and distroless tags of the current version.",
        ),
    ] = True,
    keep_images: Annotated[
        bool,
        typer.Option(
            "--keep-images", help="Keep the images advise pulled (default: remove them after)."
        ),
    ] = False,
    # The table lists these severities per vulnerability; the JSON document lists all.
    severity: Annotated[str, setting("severity").option()] = str(setting("severity").default),
    env_file: EnvFileOption = None,
    profile: ProfileOption = None,
    project_name: ProjectNameOption = None,
    docker_host: DockerHostOption = None,
    insecure_registry: Annotated[list[str] | None, setting("insecure_registry").option()] = None,
    scan_timeout: ScanTimeoutOption = 1800.0,
    trivy: TrivyOption = None,
    trivy_cache: TrivyCacheOption = None,
    db_update: DbUpdateOption = DbUpdate.AUTO,
    db_repository: DbRepositoryOption = None,
    scanners: ScannersOption = "vuln",
) -> None:
    """Scan newer tags and alpine/slim/distroless variants of an image; pull and scan only, never run."""
    if output_format not in ("table", "json"):
        fail(HullcheckError(f"invalid --format {output_format!r}", hint="use table or json"))
    try:
        severities = parse_severity_list(severity)
    except HullcheckError as error:
        fail(error)

    advise_target, engine = _resolve_target(
        target,
        paths,
        env_file=env_file,
        profile=profile,
        project_name=project_name,
        docker_host=docker_host,
    )
    scanner = build_scanner(
        scan_timeout=scan_timeout,
        trivy=trivy,
        trivy_cache=trivy_cache,
        db_update=db_update,
        db_repository=db_repository,
        scanners=scanners,
        docker_host=docker_host,
    )
    options = AdviseOptions(
        max_candidates=max_candidates, variants=variants, keep_images=keep_images
    )
    settings = RegistrySettings(insecure_registries=frozenset(insecure_registry or ()))

    try:
        with (
            run_lock(data_dir() / "run.lock", "advise"),
            RegistryClient(settings) as registry,
            progress_reporter(stderr_console.is_terminal) as on_progress,
        ):
            advice = run_advise(
                advise_target,
                registry=registry,
                engine=engine,
                scanner=scanner,
                options=options,
                progress=on_progress,
            )
    except ScannerError as error:
        fail(error, ExitCode.SCAN_FAILED)
    except HullcheckError as error:
        fail(error)

    if output_format == "json":
        typer.echo(render_advice_json(advice), nl=False)
    else:
        render_advice_table(advice, Console(), severities=severities)
    raise typer.Exit(int(ExitCode.SCAN_FAILED if advice.incomplete() else ExitCode.SUCCESS))


def _resolve_target(
    target: str,
    paths: list[Path] | None,
    *,
    env_file: Path | None,
    profile: list[str] | None,
    project_name: str | None,
    docker_host: str | None,
) -> tuple[AdviseTarget, docker.DockerClient]:
    """Find ``target`` among the compose services, else parse it as an image reference.

    With PATH arguments the target must be a service. Without them, the compose file in
    the current directory is searched first, and a name that is no service there is read
    as an image.
    """
    if paths or find_compose_files(Path.cwd()):
        discovery, client, engine_error = discover(
            paths,
            env_file=env_file,
            profiles=profile,
            project_name=project_name,
            running=False,
            docker_host=docker_host,
            need_engine=True,
        )
        print_problems(discovery.all_problems())
        service = _find_service(discovery, target)
        if service is None and paths:
            names = ", ".join(f"{s.project}/{s.service}" for s in discovery.services) or "none"
            fail(
                HullcheckError(
                    f"no service {target!r} in {', '.join(str(path) for path in paths)}",
                    hint=f"use one of: {names}",
                )
            )
        if client is None:
            fail(HullcheckError(engine_error or "no Docker engine", hint="advise pulls and scans"))
        if service is not None:
            try:
                return AdviseTarget.from_service(service), client
            except AdviseError as error:
                fail(error)
        return _image_target(target), client

    advise_target = _image_target(target)
    try:
        return advise_target, connect(docker_host)
    except EngineError as error:
        fail(error)


def _find_service(discovery: DiscoveryResult, target: str) -> ServiceImage | None:
    matches = [
        service
        for service in discovery.services
        if target in (service.service, f"{service.project}/{service.service}")
    ]
    if len(matches) > 1:
        names = ", ".join(f"{s.project}/{s.service}" for s in matches)
        fail(
            HullcheckError(
                f"service name {target!r} is ambiguous: {names}", hint="write PROJECT/SERVICE"
            )
        )
    return matches[0] if matches else None


def _image_target(text: str) -> AdviseTarget:
    try:
        return AdviseTarget(reference=parse_reference(text))
    except InvalidReferenceError as error:
        fail(
            HullcheckError(
                f"{text!r} is not a compose service here, and as an image reference it is invalid: "
                f"{error.message}",
                hint="pass the compose file or directory after the service name, "
                "or write the image as [registry/]repository[:tag]",
            )
        )


# -- JSON ---------------------------------------------------------------------------------


def advice_object(advice: Advice) -> dict[str, object]:
    """Return the ``advise --format json`` document; counts are null for failed scans."""
    current = advice.current
    scanner = advice.scanner
    database = scanner.database if scanner else None
    return {
        "schema_version": ADVICE_SCHEMA_VERSION,
        "target": advice.target,
        "service": advice.service,
        "scanner": {
            "trivy_version": scanner.trivy_version if scanner else None,
            "db_updated_at": database.updated_at.isoformat()
            if database and database.updated_at
            else None,
        },
        "tags": {
            "listed": advice.tags_listed,
            "truncated": advice.tags_truncated,
            "error": advice.tag_error,
        },
        "current": {
            **_image_object(current),
            "vulnerabilities": [
                {"id": finding.vulnerability_id, "severity": finding.severity.value}
                for finding in (current.findings.findings if current.findings else ())
            ],
        },
        "candidates": [
            {
                **_image_object(candidate),
                "clears": advice.clears(candidate),
                "adds": advice.adds(candidate),
            }
            for candidate in advice.candidates
        ],
        "by_vulnerability": advice.by_vulnerability(),
    }


def render_advice_json(advice: Advice) -> str:
    return json.dumps(advice_object(advice), indent=2, ensure_ascii=False) + "\n"


def _image_object(image: AdvisedImage) -> dict[str, object]:
    scan = image.scan
    findings = image.findings
    kind = {"kind": image.kind.value} if image.kind else {}
    return {
        "image": image.image,
        "tag": image.tag,
        **kind,
        "digest": image.digest,
        "image_id": scan.image_id,
        "status": scan.status.value,
        "failure": scan.failure.value if scan.failure else None,
        "reason": scan.reason,
        "severity_counts": _counts(findings.counts()) if findings else None,
        "fixable_counts": _counts(findings.counts(fixable_only=True)) if findings else None,
    }


def _counts(counts: SeverityCounts) -> dict[str, int]:
    return {severity.value: counts.get(severity) for severity in SEVERITIES}


# -- table --------------------------------------------------------------------------------


def render_advice_table(
    advice: Advice, console: Console, *, severities: Sequence[Severity] = SEVERITIES[:2]
) -> None:
    """Print the comparison table, then which candidates clear each listed vulnerability."""
    if advice.tag_error:
        console.print(Text(f"Tags not listed: {advice.tag_error}", style="bold red"))
    elif advice.tags_truncated:
        console.print(
            Text(
                f"Tag list truncated after {advice.tags_listed} tags: newer tags may be missing.",
                style="yellow",
            )
        )
    console.print(_summary_table(advice))
    if not advice.candidates and advice.tag_error is None:
        console.print(Text("No newer tag in this tag's series and no leaner variant found."))

    listed = {severity for severity in severities}
    current = advice.current.findings
    rows = [
        finding for finding in (current.findings if current else ()) if finding.severity in listed
    ]
    if not rows:
        return
    cleared = advice.by_vulnerability()
    table = Table(
        title="Which candidate clears each vulnerability of the current image",
        title_justify="left",
    )
    table.add_column("Vulnerability")
    table.add_column("Severity")
    table.add_column("Fixable")
    table.add_column("Cleared by", overflow="fold")
    for finding in sorted(rows, key=lambda f: (-f.severity.rank, f.vulnerability_id)):
        images = cleared.get(finding.vulnerability_id, [])
        table.add_row(
            finding.vulnerability_id,
            finding.severity.value,
            "yes" if finding.fixable else "no",
            ", ".join(_short(advice, image) for image in images) or "no candidate",
        )
    console.print()
    console.print(table)


def _summary_table(advice: Advice) -> Table:
    table = Table(
        title=f"Candidates for {advice.current.image}"
        + (f" (service {advice.service})" if advice.service else ""),
        title_justify="left",
    )
    table.add_column("Tag", overflow="fold")
    table.add_column("Kind")
    table.add_column("Critical", justify="right")
    table.add_column("High", justify="right")
    table.add_column("Fixable C+H", justify="right")
    table.add_column("Clears", justify="right")
    table.add_column("Adds", justify="right")
    table.add_column("Status", overflow="fold")

    current_counts = _critical_high(advice.current)
    table.add_row(
        advice.current.tag or _NO_VALUE,
        "current",
        *_count_cells(current_counts, None),
        _NO_VALUE,
        _NO_VALUE,
        _status_text(advice.current),
    )
    for candidate in advice.candidates:
        clears = advice.clears(candidate)
        adds = advice.adds(candidate)
        table.add_row(
            candidate.tag or _NO_VALUE,
            candidate.kind.value if candidate.kind else _NO_VALUE,
            *_count_cells(_critical_high(candidate), current_counts),
            str(len(clears)) if clears is not None else _NO_VALUE,
            str(len(adds)) if adds is not None else _NO_VALUE,
            _status_text(candidate),
        )
    return table


def _count_cells(
    counts: tuple[int, int, int] | None, baseline: tuple[int, int, int] | None
) -> list[str]:
    """Format counts, each with its change against ``baseline`` when there is one."""
    if counts is None:
        return [_NO_VALUE] * 3
    if baseline is None:
        return [str(value) for value in counts]
    return [_with_delta(value, base) for value, base in zip(counts, baseline, strict=True)]


def _critical_high(image: AdvisedImage) -> tuple[int, int, int] | None:
    findings = image.findings
    if findings is None:
        return None
    counts = findings.counts()
    fixable = findings.counts(fixable_only=True)
    return counts.CRITICAL, counts.HIGH, fixable.CRITICAL + fixable.HIGH


def _with_delta(value: int, base: int) -> str:
    if value == base:
        return str(value)
    return f"{value} ({value - base:+d})"


def _status_text(image: AdvisedImage) -> str:
    scan = image.scan
    if scan.status is ScanStatus.SCANNED:
        return "scanned"
    if scan.status is ScanStatus.NOTHING_ANALYSED:
        return f"not comparable: {scan.reason}"
    failure = scan.failure.value if scan.failure else "failed"
    return f"scan failed ({failure}): {scan.reason}"


def _short(advice: Advice, image: str) -> str:
    """Show a candidate by its tag when it is in the same repository as the current image."""
    for candidate in advice.candidates:
        if candidate.image == image and candidate.tag:
            return candidate.tag
    return image


def register(app: typer.Typer) -> None:
    app.command("advise")(advise_command)
