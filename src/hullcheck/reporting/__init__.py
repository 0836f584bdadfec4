"""Reports of a run: a Rich table for the terminal, JSON for machines and Markdown for people.

Every format is built from the same view of a ``RunRecord`` (see ``view.py``), so they agree
on counts, statuses and the Trivy version and DB date.
"""

from hullcheck.reporting.filters import (
    DEFAULT_SEVERITIES,
    hide_unfixed,
    parse_severity_list,
    select_findings,
    without_unfixed,
)
from hullcheck.reporting.json_report import render_json
from hullcheck.reporting.markdown import render_markdown
from hullcheck.reporting.table import render_table

__all__ = [
    "DEFAULT_SEVERITIES",
    "hide_unfixed",
    "parse_severity_list",
    "render_json",
    "render_markdown",
    "render_table",
    "select_findings",
    "without_unfixed",
]
