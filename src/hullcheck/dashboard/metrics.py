"""Prometheus metrics of the history, in the text exposition format (version 0.0.4).

Everything describes the newest finished run (complete, partial, failed or interrupted),
so a scrape never mixes the totals of two runs. Images that were not scanned get no
``hullcheck_open_findings`` samples: an absent series, never a zero, stands for "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hullcheck.analysis.models import SEVERITIES
from hullcheck.dashboard.history import ReadOnlyHistory
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ScanStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class MetricFamily:
    name: str
    help: str
    kind: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def collect_metrics(history: ReadOnlyHistory, *, now: datetime | None = None) -> list[MetricFamily]:
    """Read the newest finished run and return its metric families."""
    now = now or datetime.now(UTC)
    run_id = history.latest_finished_run_id()
    run = history.store.load_run(run_id) if run_id is not None else None

    info = MetricFamily("hullcheck_history_runs", "Runs with a final status in the history.")
    info.add(float(_count_finished(history)))
    families = [info]
    if run is None:
        return families
    return families + _run_families(run, now)


def render_metrics(families: Iterable[MetricFamily]) -> str:
    """Format metric families as exposition text ending in a newline."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            lines.append(f"{family.name}{_labels(labels)} {_value(value)}")
    return "\n".join(lines) + "\n"


def _run_families(run: RunRecord, now: datetime) -> list[MetricFamily]:
    last_run = MetricFamily("hullcheck_last_run_id", "Id of the newest finished run.")
    last_run.add(float(run.run_id or 0))

    finished = MetricFamily(
        "hullcheck_last_run_timestamp_seconds",
        "End of the newest finished run (its start when no end was recorded), in Unix seconds.",
    )
    finished.add((run.finished_at or run.started_at).timestamp())

    status = MetricFamily(
        "hullcheck_last_run_status",
        "1 for the status of the newest finished run, 0 for the other statuses.",
    )
    for candidate in RunStatus:
        status.add(1.0 if run.status is candidate else 0.0, status=candidate.value)

    images = MetricFamily("hullcheck_images", "Images in the newest finished run, by scan status.")
    for scan_status in ScanStatus:
        count = sum(1 for scan in run.images if scan.status is scan_status)
        images.add(float(count), status=scan_status.value)

    failed = MetricFamily(
        "hullcheck_images_failed", "Images whose scan failed in the newest finished run."
    )
    failed.add(float(len(run.failed_images())))

    findings = MetricFamily(
        "hullcheck_open_findings",
        "Unique vulnerability IDs per image and severity in the newest finished run; "
        "images without a scan result have no samples.",
    )
    for scan in run.images:
        if scan.status is not ScanStatus.SCANNED or scan.findings is None:
            continue
        counts = scan.findings.counts()
        for severity in SEVERITIES:
            findings.add(float(counts.get(severity)), image=scan.image, severity=severity.value)

    families = [last_run, finished, status, images, failed, findings]
    database = run.scanner.database if run.scanner else None
    if database is not None and database.updated_at is not None:
        age = MetricFamily(
            "hullcheck_vulnerability_db_age_seconds",
            "Seconds since the Trivy vulnerability DB of the newest finished run was updated.",
        )
        updated_at = database.updated_at
        if updated_at.tzinfo is None:
            updated_at = updated_at.replace(tzinfo=UTC)
        age.add(max((now - updated_at).total_seconds(), 0.0))
        families.append(age)
    return families


def _count_finished(history: ReadOnlyHistory) -> int:
    row = history.connection.execute(
        "SELECT count(*) FROM runs WHERE status != ?", (RunStatus.RUNNING.value,)
    ).fetchone()
    return int(row[0])


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{name}="{_escape_label(value)}"' for name, value in labels.items())
    return "{" + body + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
