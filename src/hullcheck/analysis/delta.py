"""Compare the findings of a running image with those of its candidate."""

from __future__ import annotations

from hullcheck.analysis.models import Finding, ImageFindings, Severity
from hullcheck.deployment.models import FindingDelta


def finding_delta(running: ImageFindings, candidate: ImageFindings) -> FindingDelta:
    """Split vulnerability IDs into fixed, new and still open, each sorted."""
    before = {finding.vulnerability_id for finding in running.findings}
    after = {finding.vulnerability_id for finding in candidate.findings}
    return FindingDelta(
        fixed=sorted(before - after), new=sorted(after - before), open=sorted(before & after)
    )


def new_findings(running: ImageFindings, candidate: ImageFindings) -> list[Finding]:
    """Findings of the candidate whose vulnerability ID the running image does not have."""
    before = {finding.vulnerability_id for finding in running.findings}
    return [finding for finding in candidate.findings if finding.vulnerability_id not in before]


def new_at_least(
    running: ImageFindings, candidate: ImageFindings, severity: Severity
) -> list[Finding]:
    return [f for f in new_findings(running, candidate) if f.severity.rank >= severity.rank]
