"""Ranking findings by exploitability and splitting them by whether a fix exists."""

from __future__ import annotations

from datetime import date

import pytest
from feed_fixtures import EPSS_FIXTURE, KEV_FIXTURE

from hullcheck.analysis.enrichment.epss import parse_epss
from hullcheck.analysis.enrichment.kev import parse_kev
from hullcheck.analysis.enrichment.priority import enrich, rank_findings, split_by_fix
from hullcheck.analysis.models import (
    AffectedPackage,
    EpssScore,
    Finding,
    ImageFindings,
    KevEntry,
    Severity,
)

FIXED = AffectedPackage(name="libssl3", installed_version="3.0.11-1", fixed_version="3.0.13-1")
UNFIXED = AffectedPackage(name="zlib1g", installed_version="1:1.2.13", status="will_not_fix")


def _finding(
    vulnerability_id: str,
    severity: Severity,
    *,
    fixable: bool = False,
    kev: bool = False,
    ransomware: bool = False,
    epss: float | None = None,
) -> Finding:
    return Finding(
        vulnerability_id=vulnerability_id,
        severity=severity,
        packages=(FIXED if fixable else UNFIXED,),
        kev=KevEntry(cve_id=vulnerability_id, known_ransomware=ransomware) if kev else None,
        epss=(
            EpssScore(cve_id=vulnerability_id, probability=epss, percentile=0.5)
            if epss is not None
            else None
        ),
    )


# Expected order, most urgent first, with the rule that places each one.
RANKING = [
    ("KEV-RANSOM-LOW", _finding("CVE-2000-0001", Severity.LOW, kev=True, ransomware=True)),
    ("KEV-EPSS-HIGH", _finding("CVE-2000-0002", Severity.MEDIUM, kev=True, epss=0.73)),
    ("KEV-EPSS-LOW", _finding("CVE-2000-0003", Severity.CRITICAL, kev=True, epss=0.02)),
    ("EPSS-0.35-LOW", _finding("CVE-2000-0004", Severity.LOW, epss=0.35)),
    ("EPSS-0.29-LOW", _finding("CVE-2000-0005", Severity.LOW, epss=0.29)),
    # 0.285 and 0.281 share the 28 % step, so severity decides between them.
    ("EPSS-0.281-HIGH", _finding("CVE-2000-0006", Severity.HIGH, epss=0.281)),
    ("EPSS-0.285-MEDIUM", _finding("CVE-2000-0007", Severity.MEDIUM, epss=0.285)),
    # Below 1 %, severity decides; a missing score counts as 0.
    ("CRITICAL-FIXABLE", _finding("CVE-2000-0008", Severity.CRITICAL, fixable=True, epss=0.003)),
    ("CRITICAL-UNFIXED-EPSS", _finding("CVE-2000-0009", Severity.CRITICAL, epss=0.009)),
    ("CRITICAL-UNFIXED-NONE", _finding("CVE-2000-0010", Severity.CRITICAL)),
    ("HIGH-NONE", _finding("CVE-2000-0011", Severity.HIGH)),
    ("LOW-EPSS-0.006", _finding("CVE-2000-0012", Severity.LOW, epss=0.006)),
    ("UNKNOWN-FIXABLE", _finding("CVE-2000-0013", Severity.UNKNOWN, fixable=True)),
]


def test_ranking_order_table() -> None:
    labels = {finding.vulnerability_id: label for label, finding in RANKING}
    shuffled = [finding for _, finding in reversed(RANKING)]

    ranked = rank_findings(shuffled)

    assert [labels[f.vulnerability_id] for f in ranked] == [label for label, _ in RANKING]


def test_priorities_start_at_one() -> None:
    ranked = rank_findings(finding for _, finding in RANKING)

    assert [finding.priority for finding in ranked] == list(range(1, len(RANKING) + 1))


def test_ranking_is_stable_by_id() -> None:
    twins = [_finding("CVE-2000-0002", Severity.HIGH), _finding("CVE-2000-0001", Severity.HIGH)]

    ranked = rank_findings(twins)

    assert [f.vulnerability_id for f in ranked] == ["CVE-2000-0001", "CVE-2000-0002"]


def test_split_fix_now_and_waiting() -> None:
    split = split_by_fix(finding for _, finding in RANKING)

    assert [f.vulnerability_id for f in split.fix_now] == ["CVE-2000-0008", "CVE-2000-0013"]
    assert len(split.waiting) == len(RANKING) - 2
    assert all(not finding.fixable for finding in split.waiting)
    assert split.waiting[0].vulnerability_id == "CVE-2000-0001"


def test_split_keeps_priorities() -> None:
    ranked = rank_findings(finding for _, finding in RANKING)

    split = split_by_fix(ranked)

    assert [f.priority for f in split.fix_now] == [8, 13]


def test_partly_fixable_waits() -> None:
    finding = Finding(
        vulnerability_id="CVE-2023-2650",
        severity=Severity.HIGH,
        packages=(FIXED, UNFIXED),
    )

    split = split_by_fix([finding])

    assert split.fix_now == ()
    assert split.waiting == (finding,)


def _image() -> ImageFindings:
    findings = (
        Finding(vulnerability_id="CVE-2024-0727", severity=Severity.CRITICAL, packages=(FIXED,)),
        Finding(vulnerability_id="CVE-2023-45853", severity=Severity.CRITICAL, packages=(UNFIXED,)),
        Finding(vulnerability_id="CVE-2023-4911", severity=Severity.HIGH, packages=(FIXED,)),
        Finding(vulnerability_id="CVE-2023-4863", severity=Severity.HIGH, packages=(FIXED,)),
        Finding(vulnerability_id="CVE-2023-4966", severity=Severity.MEDIUM, packages=(UNFIXED,)),
        Finding(vulnerability_id="GHSA-jfh8-c2jp-5v3q", severity=Severity.LOW, packages=(FIXED,)),
    )
    return ImageFindings(artifact_name="example/app:1", schema_version=2, findings=findings)


def test_enrich_with_fixture_feeds() -> None:
    kev = parse_kev(KEV_FIXTURE.read_bytes())
    epss = parse_epss(EPSS_FIXTURE.read_bytes())

    enriched = enrich(_image(), kev, epss)

    assert [f.vulnerability_id for f in enriched.findings] == [
        "CVE-2023-4966",  # KEV, ransomware known
        "CVE-2023-4911",  # KEV, EPSS 0.735 (fixture value)
        "CVE-2023-4863",  # KEV, EPSS 0.431 (fixture value)
        "CVE-2023-45853",  # EPSS 1.3 % (fixture value), CRITICAL
        "CVE-2024-0727",  # EPSS 0.2 % (fixture value), CRITICAL
        "GHSA-jfh8-c2jp-5v3q",  # no score, LOW
    ]
    assert [f.priority for f in enriched.findings] == [1, 2, 3, 4, 5, 6]


def test_enrich_sets_feed_fields() -> None:
    kev = parse_kev(KEV_FIXTURE.read_bytes())
    epss = parse_epss(EPSS_FIXTURE.read_bytes())

    enriched = {f.vulnerability_id: f for f in enrich(_image(), kev, epss).findings}

    glibc = enriched["CVE-2023-4911"]
    assert glibc.kev is not None
    assert glibc.kev.date_added == date(2023, 11, 21)
    assert glibc.epss is not None
    assert glibc.epss.probability == pytest.approx(0.73513)
    assert enriched["CVE-2024-0727"].kev is None
    assert enriched["GHSA-jfh8-c2jp-5v3q"].epss is None


def test_enrich_without_feeds_keeps_fields() -> None:
    marked = _finding("CVE-2023-4911", Severity.HIGH, kev=True, epss=0.7)
    image = ImageFindings(artifact_name="a", schema_version=2, findings=(marked,))

    enriched = enrich(image, None, None)

    assert enriched.findings[0].kev == marked.kev
    assert enriched.findings[0].epss == marked.epss
    assert enriched.findings[0].priority == 1


def test_enrich_returns_new_object() -> None:
    image = _image()

    enrich(image, parse_kev(KEV_FIXTURE.read_bytes()), None)

    assert all(finding.kev is None for finding in image.findings)
    assert all(finding.priority is None for finding in image.findings)
