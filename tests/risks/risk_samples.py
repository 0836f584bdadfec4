"""Findings and acceptances shared by the risk register tests."""

from __future__ import annotations

from datetime import date

from hullcheck.analysis.models import Acceptance, AffectedPackage, Finding, ImageFindings, Severity

TODAY = date(2026, 3, 1)

POSTGRES_DIGEST = "sha256:" + "ab" * 32

ZLIB = AffectedPackage(name="zlib1g", installed_version="1:1.2.13.dfsg-1", status="will_not_fix")
LIBSSL = AffectedPackage(
    name="libssl3", installed_version="3.0.11-1~deb12u2", fixed_version="3.0.13-1~deb12u1"
)
OPENSSL = AffectedPackage(
    name="openssl", installed_version="3.0.11-1~deb12u2", fixed_version="3.0.13-1~deb12u1"
)
LIBC = AffectedPackage(name="libc6", installed_version="2.36-9", fixed_version="2.36-9+deb12u3")
LOG4J = AffectedPackage(
    name="org.apache.logging.log4j:log4j-core",
    installed_version="2.14.1",
    fixed_version="2.15.0",
    package_type="jar",
)


def postgres_findings() -> ImageFindings:
    """Findings of a Debian 12 based postgres image, with real CVE and package facts."""
    findings = (
        Finding(vulnerability_id="CVE-2023-45853", severity=Severity.CRITICAL, packages=(ZLIB,)),
        Finding(
            vulnerability_id="CVE-2024-0727", severity=Severity.LOW, packages=(LIBSSL, OPENSSL)
        ),
        Finding(vulnerability_id="CVE-2023-4911", severity=Severity.HIGH, packages=(LIBC,)),
        Finding(vulnerability_id="CVE-2021-44228", severity=Severity.CRITICAL, packages=(LOG4J,)),
    )
    return ImageFindings(
        artifact_name="postgres:16",
        schema_version=2,
        repo_digests=(f"postgres@{POSTGRES_DIGEST}",),
        findings=findings,
    )


def acceptance(
    vulnerability_id: str,
    *,
    image: str | None = None,
    package: str | None = None,
    expires: date = date(2026, 6, 30),
    reason: str = "reviewed: the vulnerable code path is not used",
) -> Acceptance:
    return Acceptance(
        vulnerability_id=vulnerability_id,
        reason=reason,
        expires=expires,
        image=image,
        package=package,
        accepted_on=date(2026, 2, 1),
    )


def accepted_ids(image: ImageFindings) -> set[str]:
    return {finding.vulnerability_id for finding in image.findings if finding.accepted is not None}
