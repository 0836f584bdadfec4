"""Severity lists and the hide-unfixed filter."""

from __future__ import annotations

import pytest
from reporting_fixtures import app_findings, vulnerability

from hullcheck.analysis.models import Severity
from hullcheck.analysis.trivy_json import parse_trivy_report
from hullcheck.errors import ConfigurationError
from hullcheck.reporting import (
    DEFAULT_SEVERITIES,
    hide_unfixed,
    parse_severity_list,
    select_findings,
    without_unfixed,
)
from hullcheck.run import RunRecord


def test_default_severities_critical_high() -> None:
    assert DEFAULT_SEVERITIES == (Severity.CRITICAL, Severity.HIGH)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CRITICAL,HIGH", (Severity.CRITICAL, Severity.HIGH)),
        ("high, critical", (Severity.CRITICAL, Severity.HIGH)),
        ("low,,Medium,LOW", (Severity.MEDIUM, Severity.LOW)),
        ("unknown", (Severity.UNKNOWN,)),
    ],
)
def test_parse_severity_list(text: str, expected: tuple[Severity, ...]) -> None:
    assert parse_severity_list(text) == expected


def test_parse_severity_list_rejects_typo() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_severity_list("CRITICAL,HIHG")

    assert (
        caught.value.message
        == "invalid severity 'HIHG' in --severity / HULLCHECK_SEVERITY 'CRITICAL,HIHG'"
    )
    assert caught.value.hint is not None
    assert "CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN" in caught.value.hint


@pytest.mark.parametrize("text", ["", " , "])
def test_parse_severity_list_rejects_empty(text: str) -> None:
    with pytest.raises(ConfigurationError, match="no severity"):
        parse_severity_list(text)


def test_select_findings_keeps_order() -> None:
    findings = app_findings().findings

    selected = select_findings(findings, {Severity.HIGH, Severity.LOW})

    assert [f.severity for f in selected] == [Severity.HIGH] * 6 + [Severity.LOW]
    assert [f.vulnerability_id for f in selected][:2] == ["CVE-2000-0005", "CVE-2000-0007"]


def test_hide_unfixed_keeps_only_fixed() -> None:
    findings = app_findings()

    shown = without_unfixed(findings)
    counts = shown.counts()

    # CVE-2000-0009 (Status fixed), CVE-2000-0010 (FixedVersion, no Status) and the gem.
    assert {f.vulnerability_id for f in shown.findings} == {
        "CVE-2000-0009",
        "CVE-2000-0010",
        "CVE-2020-8165",
    }
    assert (counts.CRITICAL, counts.HIGH, counts.LOW) == (1, 2, 0)
    assert findings.counts().HIGH == 6


def test_hide_unfixed_status_table() -> None:
    statuses = [
        ("CVE-2000-0005", "HIGH", {"Status": "will_not_fix"}),
        ("CVE-2000-0006", "CRITICAL", {"Status": "fix_deferred"}),
        ("CVE-2000-0007", "HIGH", {"Status": "end_of_life"}),
        ("CVE-2000-0008", "HIGH", {"Status": "affected"}),
        ("CVE-2000-0009", "CRITICAL", {"Status": "fixed", "FixedVersion": "2"}),
        ("CVE-2000-0010", "HIGH", {"FixedVersion": "2"}),
        ("CVE-2000-0011", "HIGH", {"Status": "some_future_status"}),
    ]
    entries = [
        vulnerability(vid, chr(ord("a") + i), severity, InstalledVersion="1", **extra)
        for i, (vid, severity, extra) in enumerate(statuses)
    ]
    document = {"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": entries}]}
    findings = parse_trivy_report(document)

    total = findings.counts()
    shown = without_unfixed(findings).counts()

    assert (total.CRITICAL, total.HIGH) == (2, 5)
    assert (shown.CRITICAL, shown.HIGH) == (1, 1)


def test_hide_unfixed_drops_unfixed_packages_only() -> None:
    entries = [
        vulnerability("CVE-1", "libssl3", "HIGH", FixedVersion="3.0.13-1~deb12u1"),
        vulnerability("CVE-1", "openssl", "HIGH", Status="affected"),
    ]
    document = {"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": entries}]}
    findings = parse_trivy_report(document)

    shown = without_unfixed(findings)

    assert findings.findings[0].fixable is False
    assert [p.name for p in shown.findings[0].packages] == ["libssl3"]
    assert shown.findings[0].fixable is True


def test_hide_unfixed_run_leaves_failed_images(run: RunRecord) -> None:
    shown = hide_unfixed(run)

    assert [scan.status for scan in shown.images] == [scan.status for scan in run.images]
    assert shown.images[2].findings is None
    assert shown.images[0].findings is not None
    assert shown.images[0].findings.counts().CRITICAL == 1
    assert run.images[0].findings is not None
    assert run.images[0].findings.counts().CRITICAL == 2
