"""Findings in hullcheck's own model, independent of the scanner's JSON layout."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import NewType

from pydantic import BaseModel, ConfigDict, Field

VulnerabilityId = NewType("VulnerabilityId", str)


class Severity(StrEnum):
    """Trivy's severity names, from most to least severe."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """Order for sorting and thresholds: CRITICAL is 4, UNKNOWN is 0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Map a severity string to the enum; anything unrecognised is UNKNOWN."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            return cls.UNKNOWN


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.UNKNOWN: 0,
}

SEVERITIES: tuple[Severity, ...] = tuple(Severity)
"""Every severity, most severe first."""


class AffectedPackage(BaseModel):
    """One package that a vulnerability affects in one Trivy Result."""

    model_config = ConfigDict(frozen=True)

    name: str
    installed_version: str | None = None
    fixed_version: str | None = None
    status: str | None = None
    """Trivy's Status string as given (fixed, affected, will_not_fix, ... or an unknown one)."""
    target: str | None = None
    package_class: str | None = None
    """Trivy's Result Class: os-pkgs or lang-pkgs."""
    package_type: str | None = None
    """Trivy's Result Type: debian, alpine, python-pkg, node-pkg, ..."""
    path: str | None = None

    @property
    def fixable(self) -> bool:
        """True when a fixed version exists: Status ``fixed`` or a non-empty FixedVersion."""
        return self.status == "fixed" or bool(self.fixed_version)


class KevEntry(BaseModel):
    """A CISA Known Exploited Vulnerabilities catalog entry: exploitation seen in the wild."""

    model_config = ConfigDict(frozen=True)

    cve_id: str
    vendor_project: str | None = None
    product: str | None = None
    vulnerability_name: str | None = None
    date_added: date | None = None
    due_date: date | None = None
    """Remediation deadline CISA sets for US federal agencies."""
    known_ransomware: bool = False
    """True when the catalog's ``knownRansomwareCampaignUse`` is ``Known``."""
    required_action: str | None = None


class EpssScore(BaseModel):
    """A FIRST EPSS score: the probability of exploitation activity in the next 30 days."""

    model_config = ConfigDict(frozen=True)

    cve_id: str
    probability: float
    """The ``epss`` column, from 0 to 1."""
    percentile: float
    """Share of scored CVEs with a probability at or below this one, from 0 to 1."""
    score_date: date | None = None


class VexJustification(StrEnum):
    """OpenVEX v0.2.0 justification labels for a ``not_affected`` statement."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
        "vulnerable_code_cannot_be_controlled_by_adversary"
    )
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


class Acceptance(BaseModel):
    """One entry of the risk register: a vulnerability accepted until a date.

    Without ``image`` and ``package`` the entry covers every image. ``image`` is a
    normalised reference, with a tag or digest only when the user gave one.
    """

    model_config = ConfigDict(frozen=True)

    vulnerability_id: str
    reason: str
    expires: date
    """First day on which the acceptance no longer applies."""
    image: str | None = None
    package: str | None = None
    """A package name as Trivy reports it, or a package URL (``pkg:deb/debian/zlib1g``)."""
    accepted_on: date | None = None
    accepted_by: str | None = None
    justification: VexJustification | None = None
    """Set when the owner states the image is not affected, rather than accepting a risk."""

    def expired(self, today: date) -> bool:
        return today >= self.expires


class Finding(BaseModel):
    """One vulnerability ID in one image, with every package it affects."""

    model_config = ConfigDict(frozen=True)

    vulnerability_id: str
    severity: Severity
    """Trivy's top-level Severity; the highest one when packages disagree."""
    packages: tuple[AffectedPackage, ...]
    title: str | None = None
    severity_source: str | None = None
    vendor_severity: dict[str, int] = Field(default_factory=dict)
    """Per-vendor severity integers from Trivy (0 unknown to 4 critical), for display only."""
    primary_url: str | None = None
    kev: KevEntry | None = None
    """Set by ``enrichment.priority.enrich`` when the ID is in the CISA KEV catalog."""
    epss: EpssScore | None = None
    """Set by ``enrichment.priority.enrich`` when FIRST EPSS scores the ID."""
    accepted: Acceptance | None = None
    """Set by ``risks.apply_acceptances`` when an active register entry covers this finding."""
    priority: int | None = None
    """Rank from ``enrichment.priority.rank_findings``: 1 is the most urgent."""

    @property
    def fixable(self) -> bool:
        """True when every affected package has a fixed version, so updating clears it."""
        return all(package.fixable for package in self.packages)

    @property
    def fixed_versions(self) -> list[str]:
        return sorted({p.fixed_version for p in self.packages if p.fixed_version})


class SeverityCounts(BaseModel):
    """Unique vulnerability IDs per severity."""

    CRITICAL: int = 0
    HIGH: int = 0
    MEDIUM: int = 0
    LOW: int = 0
    UNKNOWN: int = 0

    def get(self, severity: Severity) -> int:
        return int(getattr(self, severity.value))


class ImageFindings(BaseModel):
    """Findings of one Trivy report for one image."""

    artifact_name: str
    schema_version: int
    os_family: str | None = None
    os_name: str | None = None
    os_eosl: bool = False
    analysed: bool = True
    """False when Trivy detected no OS and returned no Results: nothing was analysed."""
    trivy_version: str | None = None
    image_id: str | None = None
    repo_digests: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    def counts(self, *, fixable_only: bool = False) -> SeverityCounts:
        """Count unique vulnerability IDs per severity, optionally only the fixable ones."""
        counts = SeverityCounts()
        for finding in self.findings:
            if fixable_only and not finding.fixable:
                continue
            key = finding.severity.value
            setattr(counts, key, getattr(counts, key) + 1)
        return counts
