"""The HTML report: one self-contained page with inline CSS and SVG, no script and no assets.

The page is built from the same view as the other formats (see ``view.py``), so a failed
image shows as failed with its reason and never as 0 Critical / 0 High. Jinja2 escapes
every value. The dashboard reuses the templates, the stylesheet and the trend chart.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from hullcheck import __version__
from hullcheck.analysis.models import Finding, Severity
from hullcheck.deployment.models import ServiceUpdate
from hullcheck.reporting.filters import DEFAULT_SEVERITIES
from hullcheck.reporting.view import (
    HIDDEN_UNFIXED_TEXT,
    NO_VALUE,
    ImageRow,
    build_view,
    format_time,
    row_count_text,
    scanner_text,
    totals_text,
    vendor_note,
)
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ScanStatus
from hullcheck.storage.models import RunSummary

REPORT_CSS = (resources.files("hullcheck.reporting") / "templates" / "report.css").read_text(
    encoding="utf-8"
)
"""The stylesheet inlined into every page."""

STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
"""CSP source expression that allows exactly the inlined stylesheet."""

LINK_SCHEMES = ("https://", "http://")
"""Advisory URLs are linked only with these schemes, so a stored ``javascript:`` URL is text."""


@dataclass(frozen=True)
class NavigationLink:
    label: str
    href: str
    current: bool = False


@cache
def template_environment() -> Environment:
    """Return the Jinja2 environment of the report and dashboard templates, autoescape on."""
    environment = Environment(
        loader=PackageLoader("hullcheck.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        css=Markup(REPORT_CSS),
        version=__version__,
        no_value=NO_VALUE,
        format_time=format_time,
    )
    return environment


def render_page(template_name: str, **context: Any) -> str:
    """Render one of the templates with the shared globals and an empty default navigation."""
    context.setdefault("navigation", ())
    context.setdefault("generated_at", format_time(datetime.now(UTC)))
    return template_environment().get_template(template_name).render(**context)


@dataclass(frozen=True)
class FindingLine:
    """One affected package of one finding, as a row of an image's findings table."""

    vulnerability_id: str
    url: str | None
    severity: str
    vendor_note: str | None
    package: str
    installed: str
    fixed: str
    status: str
    kev: bool
    epss: str | None
    priority: str | None
    accepted: bool
    accepted_reason: str | None


@dataclass(frozen=True)
class ImageSection:
    """One image of the run: its row in the summary table and its drill-down."""

    anchor: str
    row: ImageRow
    critical: str
    high: str
    fixable: str
    critical_count: int
    high_count: int
    kev_count: int
    accepted_count: int
    lines: tuple[FindingLine, ...]
    listed_count: int


@dataclass(frozen=True)
class UpdateLine:
    update: ServiceUpdate
    reason: str
    fixed: str
    new: str
    open: str
    new_ids: tuple[str, ...]


def render_html(
    run: RunRecord,
    *,
    history: list[RunSummary] | None = None,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed: bool = False,
    navigation: Sequence[NavigationLink] = (),
    now: datetime | None = None,
) -> str:
    """Render ``run`` as one HTML page that needs no network and no other file.

    ``history`` adds a trend chart of CRITICAL and HIGH totals. It may list the run itself
    or not; a run missing from it is added as the newest point. ``severities`` selects the
    findings in each image's drill-down, while counts always cover every severity.
    ``navigation`` adds the dashboard's links above the report.
    """
    view = build_view(run, severities=severities, hide_unfixed_findings=hide_unfixed)
    trend = None
    if history is not None:
        points = trend_points(history)
        if run.run_id is None or all(point.run_id != run.run_id for point in points):
            points.append(point_from_run(run))
            points.sort(key=lambda point: (point.run_id is None, point.run_id or 0))
        trend = render_trend_svg(points)
    return render_page(
        "report.html",
        run=run,
        view=view,
        scanner=scanner_text(view.scanner),
        totals=totals_text(view),
        hidden_unfixed=HIDDEN_UNFIXED_TEXT if view.hidden_unfixed else None,
        listed_severities=", ".join(severity.value for severity in view.severities),
        images=[_image_section(index, row) for index, row in enumerate(view.rows, start=1)],
        updates=[_update_line(update) for update in run.updates],
        trend=trend,
        count=view.count,
        statuses=ScanStatus,
        navigation=tuple(navigation),
        generated_at=format_time(now or datetime.now(UTC)),
    )


def image_anchor(index: int) -> str:
    """Return the HTML id of the ``index``-th image (counted from 1) in a report."""
    return f"image-{index}"


def _image_section(index: int, row: ImageRow) -> ImageSection:
    findings = row.scan.findings.findings if row.scan.findings is not None else ()
    lines = tuple(line for finding in row.listed for line in _finding_lines(finding))
    fixable = NO_VALUE
    if row.shows_counts and row.fixable_counts is not None:
        fixable = str(row.fixable_counts.CRITICAL + row.fixable_counts.HIGH)
    shown = row.shows_counts and row.counts is not None
    return ImageSection(
        anchor=image_anchor(index),
        row=row,
        critical=row_count_text(row, Severity.CRITICAL),
        high=row_count_text(row, Severity.HIGH),
        fixable=fixable,
        critical_count=row.counts.CRITICAL if shown and row.counts else 0,
        high_count=row.counts.HIGH if shown and row.counts else 0,
        kev_count=sum(1 for finding in findings if getattr(finding, "kev", False)),
        accepted_count=sum(1 for finding in findings if getattr(finding, "accepted", None)),
        lines=lines,
        listed_count=len(row.listed),
    )


def _finding_lines(finding: Finding) -> list[FindingLine]:
    # kev, epss, accepted and priority are optional Finding fields, so read them with
    # defaults: the report works with and without them.
    accepted = getattr(finding, "accepted", None)
    url = finding.primary_url if finding.primary_url else None
    if url is not None and not url.lower().startswith(LINK_SCHEMES):
        url = None
    kev = bool(getattr(finding, "kev", False))
    epss = _epss_text(getattr(finding, "epss", None))
    priority = _priority_text(getattr(finding, "priority", None))
    note = vendor_note(finding)
    return [
        FindingLine(
            vulnerability_id=finding.vulnerability_id,
            url=url,
            severity=finding.severity.value,
            vendor_note=note,
            package=package.name,
            installed=package.installed_version or NO_VALUE,
            fixed=package.fixed_version or NO_VALUE,
            status=package.status or NO_VALUE,
            kev=kev,
            epss=epss,
            priority=priority,
            accepted=bool(accepted),
            accepted_reason=_acceptance_reason(accepted),
        )
        for package in finding.packages
    ]


def _epss_text(value: object) -> str | None:
    """Format an EPSS probability (0 to 1) as a percentage; other values as given."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return f"{value * 100:.1f}%"
    probability = getattr(value, "probability", None)
    if isinstance(probability, int | float) and 0 <= probability <= 1:
        return f"{probability * 100:.1f}%"
    return str(value)


def _priority_text(value: object) -> str | None:
    """Name a priority rank (1 is the most urgent) or show another value as given."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return f"priority {value}"
    enum_value = getattr(value, "value", None)
    return str(enum_value if enum_value is not None else value)


def _acceptance_reason(accepted: object) -> str | None:
    """Return the reason of a risk acceptance, with its expiry date when it has one."""
    if not accepted or isinstance(accepted, bool):
        return None
    if isinstance(accepted, str):
        return accepted
    reason = getattr(accepted, "reason", None)
    expires = getattr(accepted, "expires", None)
    text = str(reason) if reason else ""
    if expires is not None:
        text = f"{text} (until {expires})".strip()
    return text or None


def _update_line(update: ServiceUpdate) -> UpdateLine:
    reason = update.reason
    if update.escalations:
        reason += " | ATTENTION: " + "; ".join(update.escalations)
    delta = update.delta
    if delta is None:
        return UpdateLine(update, reason, NO_VALUE, NO_VALUE, NO_VALUE, ())
    return UpdateLine(
        update,
        reason,
        str(len(delta.fixed)),
        str(len(delta.new)),
        str(len(delta.open)),
        tuple(delta.new),
    )


# The trend chart.

CHART_WIDTH = 720
CHART_HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 28, 44
_MAX_X_LABELS = 12


@dataclass(frozen=True)
class TrendPoint:
    """CRITICAL and HIGH totals of one run, for the trend chart."""

    run_id: int | None
    started_at: datetime
    status: RunStatus
    critical: int
    high: int
    images_scanned: int
    images_failed: int

    @property
    def has_result(self) -> bool:
        """False when no image was scanned: such a run is a gap, not a zero."""
        return self.images_scanned > 0

    @property
    def complete(self) -> bool:
        return self.status is RunStatus.COMPLETE and self.images_failed == 0


@dataclass(frozen=True)
class ChartMark:
    x: float
    critical_y: float | None
    high_y: float | None
    label: str | None
    point: TrendPoint


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    marks: tuple[ChartMark, ...]
    critical_segments: tuple[str, ...]
    """SVG ``points`` attributes, one per run of consecutive results."""
    high_segments: tuple[str, ...]
    ticks: tuple[tuple[float, int], ...]
    """(y, value) of each horizontal grid line."""
    summary: str


def trend_points(history: Sequence[RunSummary]) -> list[TrendPoint]:
    """Turn ``list_runs`` summaries (newest first) into chart points, oldest first."""
    points = [
        TrendPoint(
            run_id=summary.run_id,
            started_at=summary.started_at,
            status=summary.status,
            critical=summary.critical or 0,
            high=summary.high or 0,
            images_scanned=summary.images_scanned,
            images_failed=summary.images_failed,
        )
        for summary in history
    ]
    points.sort(key=lambda point: point.run_id or 0)
    return points


def point_from_run(run: RunRecord) -> TrendPoint:
    view = build_view(run)
    return TrendPoint(
        run_id=run.run_id,
        started_at=run.started_at,
        status=run.status,
        critical=view.totals.CRITICAL,
        high=view.totals.HIGH,
        images_scanned=view.count(ScanStatus.SCANNED),
        images_failed=view.count(ScanStatus.FAILED),
    )


def build_trend(points: Sequence[TrendPoint]) -> TrendChart:
    """Lay out ``points`` (oldest first) evenly on the x axis, scaled to the largest total."""
    plot_width = CHART_WIDTH - _LEFT - _RIGHT
    plot_height = CHART_HEIGHT - _TOP - _BOTTOM
    maximum = max((max(p.critical, p.high) for p in points if p.has_result), default=0)
    step = _tick_step(maximum)
    top_value = max(step * -(-maximum // step), step)

    def y_of(value: int) -> float:
        return round(_TOP + plot_height * (1 - value / top_value), 1)

    label_every = max(1, -(-len(points) // _MAX_X_LABELS))
    marks: list[ChartMark] = []
    for index, point in enumerate(points):
        if len(points) == 1:
            x = _LEFT + plot_width / 2
        else:
            x = _LEFT + plot_width * index / (len(points) - 1)
        is_labelled = index % label_every == 0 or index == len(points) - 1
        label = _point_label(point) if is_labelled else None
        marks.append(
            ChartMark(
                x=round(x, 1),
                critical_y=y_of(point.critical) if point.has_result else None,
                high_y=y_of(point.high) if point.has_result else None,
                label=label,
                point=point,
            )
        )

    ticks = tuple((y_of(value), value) for value in range(0, top_value + 1, step))
    return TrendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=_LEFT,
        right=_RIGHT,
        top=_TOP,
        bottom=_BOTTOM,
        marks=tuple(marks),
        critical_segments=_segments(marks, lambda mark: mark.critical_y),
        high_segments=_segments(marks, lambda mark: mark.high_y),
        ticks=ticks,
        summary=_chart_summary(points),
    )


def render_trend_svg(points: Sequence[TrendPoint]) -> Markup:
    """Return the trend chart of ``points`` (oldest first) as inline SVG markup."""
    macro = template_environment().get_template("_trend.html").module.trend_svg  # type: ignore[attr-defined]
    return Markup(macro(build_trend(points)))


def _tick_step(maximum: int) -> int:
    """Pick 1, 2 or 5 times a power of ten so that at most five grid steps cover ``maximum``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if maximum <= step * 5:
                return step
        magnitude *= 10


def _segments(marks: Sequence[ChartMark], y_of: Any) -> tuple[str, ...]:
    """Split a series at runs without a result, so a gap is never drawn as a line through 0."""
    segments: list[str] = []
    current: list[str] = []
    for mark in marks:
        y = y_of(mark)
        if y is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        current.append(f"{mark.x},{y}")
    if current:
        segments.append(" ".join(current))
    return tuple(segments)


def _point_label(point: TrendPoint) -> str:
    return f"#{point.run_id}" if point.run_id is not None else "this run"


def _chart_summary(points: Sequence[TrendPoint]) -> str:
    with_result = [point for point in points if point.has_result]
    if not with_result:
        return f"{len(points)} runs, none with a scan result."
    last = with_result[-1]
    return (
        f"{len(points)} runs; the latest with a result, {_point_label(last)}, has "
        f"{last.critical} CRITICAL and {last.high} HIGH."
    )
