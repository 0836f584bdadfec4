"""Report filters: which severities the detail lists, and hiding vulnerabilities with no fix."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from hullcheck.analysis.models import Finding, ImageFindings, Severity
from hullcheck.errors import ConfigurationError
from hullcheck.run import RunRecord

DEFAULT_SEVERITIES: tuple[Severity, ...] = (Severity.CRITICAL, Severity.HIGH)
"""Severities listed in the findings detail unless ``--severity`` sets others."""


def parse_severity_list(text: str) -> tuple[Severity, ...]:
    """Parse a ``--severity`` value such as ``critical,HIGH``, most severe first.

    Raises ``ConfigurationError`` for an unknown name or an empty list, unlike
    ``Severity.parse``, which maps unknown scanner output to UNKNOWN.
    """
    chosen: set[Severity] = set()
    for part in text.split(","):
        name = part.strip().upper()
        if not name:
            continue
        if name not in Severity.__members__:
            raise ConfigurationError(
                f"invalid severity {part.strip()!r} in --severity / HULLCHECK_SEVERITY {text!r}",
                hint="use a comma-separated list of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN",
            )
        chosen.add(Severity(name))
    if not chosen:
        raise ConfigurationError(
            f"no severity in --severity / HULLCHECK_SEVERITY {text!r}",
            hint="give at least one, for example CRITICAL,HIGH",
        )
    return tuple(sorted(chosen, key=lambda severity: -severity.rank))


def select_findings(findings: Iterable[Finding], severities: Collection[Severity]) -> list[Finding]:
    """Return the findings whose severity is in ``severities``, keeping their order.

    Only the detail lists use this filter. Severity counts always include every severity.
    """
    return [finding for finding in findings if finding.severity in severities]


def without_unfixed(findings: ImageFindings) -> ImageFindings:
    """Drop every affected package that has no fix, and findings left with no package.

    A package counts as fixed when its Status is ``fixed`` or it names a FixedVersion, so
    ``affected``, ``will_not_fix``, ``fix_deferred``, ``end_of_life``, any status that
    Trivy may add later and a missing status are all hidden. This matches what Trivy's
    ``--ignore-unfixed`` leaves out.
    """
    kept: list[Finding] = []
    for finding in findings.findings:
        packages = tuple(package for package in finding.packages if package.fixable)
        if packages:
            kept.append(finding.model_copy(update={"packages": packages}))
    return findings.model_copy(update={"findings": tuple(kept)})


def hide_unfixed(run: RunRecord) -> RunRecord:
    """Return a copy of ``run`` whose images list only vulnerabilities that have a fix."""
    images = [
        scan
        if scan.findings is None
        else scan.model_copy(update={"findings": without_unfixed(scan.findings)})
        for scan in run.images
    ]
    return run.model_copy(update={"images": images})
