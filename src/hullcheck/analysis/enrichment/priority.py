"""Rank findings by how likely they are to be exploited, and split them by whether a fix exists.

The order, most urgent first:

1. in the CISA KEV catalog with known ransomware use;
2. in the KEV catalog;
3. higher EPSS probability, compared in whole percentage points;
4. higher severity;
5. fixable before waiting on upstream;
6. higher exact EPSS probability, then the vulnerability ID, so the order is stable.

EPSS is compared in whole points because below about one percent the score means "unlikely"
and its decimals are noise: a CRITICAL at 0.3 % should not fall behind a LOW at 0.6 %. A
finding without a score counts as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from hullcheck.analysis.enrichment.epss import EpssScores
from hullcheck.analysis.enrichment.kev import KevCatalog
from hullcheck.analysis.models import Finding, ImageFindings

EPSS_STEP = 0.01
"""Resolution at which EPSS orders findings before severity does: one percentage point."""


@dataclass(frozen=True)
class FixSplit:
    """Findings split by what clears them, each part in priority order."""

    fix_now: tuple[Finding, ...]
    """Every affected package has a fixed version, so an update or a newer digest clears it."""
    waiting: tuple[Finding, ...]
    """At least one affected package has no fixed version yet: waiting on upstream."""


def enrich(
    image_findings: ImageFindings, kev: KevCatalog | None, epss: EpssScores | None
) -> ImageFindings:
    """Return a copy with ``kev``, ``epss`` and ``priority`` set, findings in priority order.

    A feed given as None (not loaded) leaves that field of each finding as it was.
    """
    updated = []
    for finding in image_findings.findings:
        changes: dict[str, object] = {}
        if kev is not None:
            changes["kev"] = kev.get(finding.vulnerability_id)
        if epss is not None:
            changes["epss"] = epss.get(finding.vulnerability_id)
        updated.append(finding.model_copy(update=changes) if changes else finding)
    return image_findings.model_copy(update={"findings": tuple(rank_findings(updated))})


def rank_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Return the findings most urgent first, with ``priority`` set from 1."""
    ordered = sorted(findings, key=urgency_key)
    return [
        finding.model_copy(update={"priority": rank})
        for rank, finding in enumerate(ordered, start=1)
    ]


def split_by_fix(findings: Iterable[Finding]) -> FixSplit:
    """Split into "you can fix now" and "waiting on upstream", keeping each ``priority``."""
    ordered = sorted(findings, key=urgency_key)
    return FixSplit(
        fix_now=tuple(finding for finding in ordered if finding.fixable),
        waiting=tuple(finding for finding in ordered if not finding.fixable),
    )


def urgency_key(finding: Finding) -> tuple[int, int, int, int, int, float, str]:
    """Sort key that puts the most urgent finding first (see the module docstring)."""
    kev = finding.kev
    probability = finding.epss.probability if finding.epss is not None else 0.0
    # The tiny offset keeps 0.29 in step 29 although 0.29 / 0.01 is 28.999... in floats.
    step = math.floor(probability / EPSS_STEP + 1e-9)
    return (
        0 if kev is not None and kev.known_ransomware else 1,
        0 if kev is not None else 1,
        -step,
        -finding.severity.rank,
        0 if finding.fixable else 1,
        -probability,
        finding.vulnerability_id,
    )
