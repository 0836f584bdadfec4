"""The dashboard's pages, each rendered from the read-only history with the report templates."""

from __future__ import annotations

from collections.abc import Sequence

from hullcheck.analysis.models import Severity
from hullcheck.dashboard.history import SEARCH_LIMIT, FindingQuery, ReadOnlyHistory
from hullcheck.reporting.filters import DEFAULT_SEVERITIES
from hullcheck.reporting.html import (
    NavigationLink,
    image_anchor,
    render_html,
    render_page,
    render_trend_svg,
    trend_points,
)
from hullcheck.reporting.view import count_text

TREND_RUNS = 30
"""Runs in the trend chart of a run page, that run and the ones before it."""

PAGES = (
    ("runs", "Runs", "/runs"),
    ("images", "Images", "/images"),
    ("findings", "Findings", "/findings"),
    ("trends", "Trends", "/trends"),
    ("metrics", "Metrics", "/metrics"),
)


def navigation(current: str | None) -> tuple[NavigationLink, ...]:
    return tuple(NavigationLink(label, href, key == current) for key, label, href in PAGES)


def runs_page(history: ReadOnlyHistory, *, limit: int) -> str:
    runs = history.store.list_runs(limit)
    return render_page(
        "dashboard_runs.html",
        navigation=navigation("runs"),
        runs=runs,
        limit=limit,
        database=str(history.path),
        count_text=count_text,
    )


def run_page(
    history: ReadOnlyHistory,
    run_id: int,
    *,
    severities: Sequence[Severity] = DEFAULT_SEVERITIES,
    hide_unfixed: bool = False,
) -> str:
    run = history.store.load_run(run_id)
    return render_html(
        run,
        history=history.runs_until(run_id, TREND_RUNS),
        severities=severities,
        hide_unfixed=hide_unfixed,
        navigation=navigation("runs"),
    )


def images_page(history: ReadOnlyHistory) -> str:
    return render_page(
        "dashboard_images.html",
        navigation=navigation("images"),
        images=history.latest_images(),
        anchor=lambda position: image_anchor(position + 1),
        count_text=count_text,
    )


def findings_page(history: ReadOnlyHistory, query: FindingQuery) -> str:
    matches, truncated = ([], False) if query.is_empty else history.search_findings(query)
    return render_page(
        "dashboard_findings.html",
        navigation=navigation("findings"),
        query=query,
        matches=matches,
        truncated=truncated,
        limit=SEARCH_LIMIT,
        anchor=lambda position: image_anchor(position + 1),
    )


def trends_page(history: ReadOnlyHistory, *, limit: int) -> str:
    runs = history.store.list_runs(limit)
    points = trend_points(runs)
    return render_page(
        "dashboard_trends.html",
        navigation=navigation("trends"),
        chart=render_trend_svg(points) if points else None,
        points=points,
        limit=limit,
    )


def message_page(title: str, message: str, hint: str | None = None) -> str:
    return render_page(
        "dashboard_message.html",
        navigation=navigation(None),
        title=title,
        message=message,
        hint=hint,
    )
