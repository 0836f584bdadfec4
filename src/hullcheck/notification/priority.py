"""Ranking of the findings a notification lists first.

``rank_findings`` takes the sort key as a parameter, so that a ranking by known
exploitation or EPSS can replace ``severity_priority`` without touching the message builder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hullcheck.analysis.models import Finding, Severity
from hullcheck.scanning.models import ImageScan

NOTIFIED_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})


@dataclass(frozen=True)
class RankedFinding:
    """One vulnerability ID with every image of the run that has it."""

    finding: Finding
    """The finding as reported in the first image that has it."""
    images: tuple[str, ...]
    known_exploited: bool = False

    @property
    def vulnerability_id(self) -> str:
        return self.finding.vulnerability_id


PriorityKey = Callable[[RankedFinding], Any]
"""Sort key: findings with smaller keys come first."""


def severity_priority(ranked: RankedFinding) -> tuple[int, bool, str]:
    """Order CRITICAL before HIGH, then fixable before unfixed, then by ID."""
    return (-ranked.finding.severity.rank, not ranked.finding.fixable, ranked.vulnerability_id)


def exploit_priority(ranked: RankedFinding) -> tuple[int, int, bool, str]:
    """Order by the exploitability rank (KEV, EPSS) when a run has one, else by severity."""
    rank = ranked.finding.priority
    return (
        rank if rank is not None else 1_000_000,
        -ranked.finding.severity.rank,
        not ranked.finding.fixable,
        ranked.vulnerability_id,
    )


def collect_findings(
    scans: Iterable[ImageScan],
    *,
    known_exploited: frozenset[str] = frozenset(),
    severities: Iterable[Severity] = NOTIFIED_SEVERITIES,
) -> list[RankedFinding]:
    """Group the findings of ``scans`` by vulnerability ID, in order of first appearance.

    Known-exploited IDs are included at any severity, because exploitation matters more
    than the rating.
    """
    selected = frozenset(severities)
    first: dict[str, Finding] = {}
    images: dict[str, list[str]] = {}
    for scan in scans:
        if scan.findings is None:
            continue
        for finding in scan.findings.findings:
            identifier = finding.vulnerability_id
            if finding.severity not in selected and identifier not in known_exploited:
                continue
            first.setdefault(identifier, finding)
            seen = images.setdefault(identifier, [])
            if scan.image not in seen:
                seen.append(scan.image)
    return [
        RankedFinding(
            finding=finding,
            images=tuple(images[identifier]),
            known_exploited=identifier in known_exploited,
        )
        for identifier, finding in first.items()
    ]


def rank_findings(
    scans: Iterable[ImageScan],
    *,
    sort_key: PriorityKey = severity_priority,
    known_exploited: frozenset[str] = frozenset(),
) -> list[RankedFinding]:
    """Return the CRITICAL, HIGH and known-exploited findings, most urgent first."""
    return sorted(collect_findings(scans, known_exploited=known_exploited), key=sort_key)
