"""Accepted risk: validate risk register entries and mark the findings they cover.

An accepted finding stays in the report, marked with its ``Acceptance``, but leaves the
counts that gate a run or send an alert (``gating_findings``). An acceptance ends at the
start of its ``expires`` day, the same rule Trivy applies to ``expired_at`` in
``.trivyignore.yaml``. From then on the finding counts again, and ``expired_acceptances``
returns the entry so that a notification can explain why the finding came back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from urllib.parse import unquote

from hullcheck.analysis.models import (
    Acceptance,
    AffectedPackage,
    Finding,
    ImageFindings,
    VexJustification,
)
from hullcheck.discovery.models import ImageReference, InvalidReferenceError
from hullcheck.discovery.references import parse_reference
from hullcheck.errors import ConfigurationError

MAX_ID_LENGTH = 100

_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_GHSA = re.compile(r"GHSA(-[0-9a-z]{4}){3}", re.IGNORECASE)
# Other advisory IDs that Trivy reports: DLA-3530-1, RUSTSEC-2023-0044, GO-2022-0969,
# TEMP-0841856-B18BAF, RHSA-2023:1234, ...
_OTHER_ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Za-z0-9._:]+)+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PURL = re.compile(r"pkg:[A-Za-z][A-Za-z0-9.+-]*/[^\s]+")


class RiskRegisterError(ConfigurationError):
    """An invalid acceptance, or a risk register file that cannot be read or written."""


class RiskStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"


def status_of(acceptance: Acceptance, today: date) -> RiskStatus:
    return RiskStatus.EXPIRED if acceptance.expired(today) else RiskStatus.ACTIVE


def new_acceptance(
    vulnerability_id: str,
    *,
    reason: str,
    expires: str | date,
    today: date,
    image: str | None = None,
    package: str | None = None,
    justification: VexJustification | None = None,
    accepted_by: str | None = None,
) -> Acceptance:
    """Validate and normalise the values of a new acceptance accepted on ``today``.

    Raises RiskRegisterError naming the invalid value and the fix: an unknown ID format,
    an expiry that is not an ISO date after today, an empty reason, an invalid image
    reference or package.
    """
    expiry = parse_expiry(expires) if isinstance(expires, str) else expires
    if expiry <= today:
        raise RiskRegisterError(
            f"the expiry date {expiry.isoformat()} is not in the future (today is "
            f"{today.isoformat()})",
            hint="give a later date; an acceptance ends at the start of its expiry day",
        )
    return Acceptance(
        vulnerability_id=normalise_vulnerability_id(vulnerability_id),
        reason=normalise_reason(reason),
        expires=expiry,
        image=normalise_image(image) if image is not None else None,
        package=normalise_package(package) if package is not None else None,
        accepted_on=today,
        accepted_by=accepted_by or None,
        justification=justification,
    )


def normalise_vulnerability_id(text: str) -> str:
    """Return the ID as Trivy spells it: ``CVE-2023-4911``, ``GHSA-xxxx-xxxx-xxxx``."""
    value = text.strip()
    if len(value) > MAX_ID_LENGTH:
        raise RiskRegisterError(
            f"the vulnerability ID {value[:40]!r}... is longer than {MAX_ID_LENGTH} characters",
            hint="give the ID as the scan report shows it, such as CVE-2023-4911",
        )
    upper = value.upper()
    if upper.startswith("CVE-"):
        if not _CVE.fullmatch(value):
            raise RiskRegisterError(
                f"invalid CVE ID {value!r}",
                hint="use the form CVE-YYYY-NNNN with at least four digits, e.g. CVE-2023-4911",
            )
        return upper
    if upper.startswith("GHSA-"):
        if not _GHSA.fullmatch(value):
            raise RiskRegisterError(
                f"invalid GitHub advisory ID {value!r}",
                hint="use the form GHSA-xxxx-xxxx-xxxx, e.g. GHSA-jfh8-c2jp-5v3q",
            )
        return "GHSA-" + value[5:].lower()
    if not _OTHER_ID.fullmatch(value):
        raise RiskRegisterError(
            f"invalid vulnerability ID {value!r}",
            hint="give the ID as the scan report shows it: CVE-..., GHSA-..., DLA-..., ...",
        )
    return value


def parse_expiry(text: str, *, field: str = "expiry date") -> date:
    """Parse an ISO date ``YYYY-MM-DD``; ``field`` names the value in the error."""
    value = text.strip()
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise RiskRegisterError(
            f"invalid {field} {text!r}",
            hint="give an ISO date (YYYY-MM-DD) such as 2026-12-31",
        ) from None


def normalise_reason(text: str) -> str:
    value = text.strip()
    if not value:
        raise RiskRegisterError(
            "the reason is empty",
            hint="say why the risk is acceptable, e.g. 'the vulnerable feature is disabled'",
        )
    return value


def normalise_image(text: str) -> str:
    """Normalise a reference, keeping a tag or digest only when one is written.

    ``nginx`` becomes ``docker.io/library/nginx`` and covers every tag, while
    ``nginx:1.27`` becomes ``docker.io/library/nginx:1.27`` and covers only that tag.
    """
    try:
        reference = parse_reference(text.strip())
    except InvalidReferenceError as error:
        raise RiskRegisterError(
            f"invalid image reference {text!r}: {error.message}",
            hint="give the image as in the compose file or the report, e.g. nginx:1.27",
        ) from error
    return _canonical(reference)


def normalise_package(text: str) -> str:
    value = text.strip()
    if value.startswith("pkg:"):
        if not _PURL.fullmatch(value):
            raise RiskRegisterError(
                f"invalid package URL {value!r}",
                hint="use the form pkg:TYPE/NAMESPACE/NAME, e.g. pkg:deb/debian/zlib1g",
            )
        return value
    if not value or any(character.isspace() for character in value):
        raise RiskRegisterError(
            f"invalid package name {text!r}",
            hint="give the package name as the scan report shows it, e.g. zlib1g",
        )
    return value


def same_scope(first: Acceptance, second: Acceptance) -> bool:
    """True when both entries accept the same ID for the same image and package."""
    return (
        _id_key(first.vulnerability_id) == _id_key(second.vulnerability_id)
        and first.image == second.image
        and _package_key(first.package) == _package_key(second.package)
    )


def scope_text(acceptance: Acceptance) -> str:
    """Describe what an entry covers: ``all images``, ``image X``, ``package Y in image X``."""
    if acceptance.image and acceptance.package:
        return f"package {acceptance.package} in image {acceptance.image}"
    if acceptance.image:
        return f"image {acceptance.image}"
    if acceptance.package:
        return f"package {acceptance.package} in all images"
    return "all images"


def apply_acceptances(
    image_findings: ImageFindings,
    image_ref: str,
    acceptances: Sequence[Acceptance],
    today: date,
) -> ImageFindings:
    """Return a copy whose findings carry the active acceptance covering them, else None.

    A finding is covered when every package it affects is covered by an active entry for
    its ID whose image (if any) matches ``image_ref`` or one of the image's repo digests.
    When several entries cover it, the mark is the most specific, then the latest expiry.
    """
    active = [
        acceptance
        for acceptance in acceptances
        if not acceptance.expired(today) and image_matches(acceptance, image_ref, image_findings)
    ]
    findings = tuple(
        _marked(finding, _covering(finding, active)) for finding in image_findings.findings
    )
    return image_findings.model_copy(update={"findings": findings})


def gating_findings(image_findings: ImageFindings) -> tuple[Finding, ...]:
    """Return the findings that count for ``--fail-on``, policies and alerts: not accepted ones."""
    return tuple(finding for finding in image_findings.findings if finding.accepted is None)


def without_accepted(image_findings: ImageFindings) -> ImageFindings:
    """Return a copy without accepted findings, so its ``counts()`` gate and alert."""
    return image_findings.model_copy(update={"findings": gating_findings(image_findings)})


def expired_acceptances(
    image_findings: ImageFindings,
    image_ref: str,
    acceptances: Sequence[Acceptance],
    today: date,
) -> list[Acceptance]:
    """Return the expired entries that would still cover a finding that no entry covers now.

    These are the acceptances whose expiry brought a finding back into the counts.
    """
    applied = apply_acceptances(image_findings, image_ref, acceptances, today)
    expired = [
        acceptance
        for acceptance in acceptances
        if acceptance.expired(today) and image_matches(acceptance, image_ref, image_findings)
    ]
    result: list[Acceptance] = []
    for finding in applied.findings:
        if finding.accepted is not None:
            continue
        for acceptance in expired:
            if acceptance not in result and _covers_any(acceptance, finding):
                result.append(acceptance)
    return result


def image_matches(acceptance: Acceptance, image_ref: str, image_findings: ImageFindings) -> bool:
    """True when the entry has no image, or its image names the scanned one.

    The repository must be equal after normalisation. A tag in the entry must equal the
    image's tag (``latest`` when none is written). A digest in the entry must equal the
    reference's digest or one of the image's repo digests of that repository.
    """
    if acceptance.image is None:
        return True
    try:
        accepted_ref = parse_reference(acceptance.image)
        scanned = parse_reference(image_ref)
    except InvalidReferenceError:
        # Names that are not valid references, such as an image ID, match only as equal text.
        return acceptance.image == image_ref
    if accepted_ref.name != scanned.name:
        return False
    if accepted_ref.tag is not None and accepted_ref.tag != scanned.effective_tag:
        return False
    if accepted_ref.digest is not None:
        return accepted_ref.digest in _digests(scanned, image_findings.repo_digests)
    return True


def package_matches(acceptance_package: str, package: AffectedPackage) -> bool:
    """True when a register package (name or package URL) names ``package``.

    A package URL matches by its name, or by ``NAMESPACE/NAME`` or ``NAMESPACE:NAME``,
    which is how Trivy names Go modules, npm scoped packages and Maven artifacts.
    """
    names = _package_names(acceptance_package)
    return package.name.lower() in names


def _canonical(reference: ImageReference) -> str:
    text = reference.name
    if reference.tag is not None:
        text += f":{reference.tag}"
    if reference.digest is not None:
        text += f"@{reference.digest}"
    return text


def _digests(scanned: ImageReference, repo_digests: Iterable[str]) -> set[str]:
    digests = {scanned.digest} if scanned.digest else set()
    for text in repo_digests:
        try:
            reference = parse_reference(text)
        except InvalidReferenceError:
            continue
        if reference.name == scanned.name and reference.digest:
            digests.add(reference.digest)
    return digests


def _package_names(package: str) -> set[str]:
    if not package.startswith("pkg:"):
        return {package.lower()}
    # pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH; the version follows the last "/".
    remainder = package[4:].split("#", 1)[0].split("?", 1)[0]
    head, _, last = remainder.rpartition("/")
    name = unquote(last.split("@", 1)[0])
    namespace = "/".join(unquote(part) for part in head.split("/")[1:] if part)
    names = {name}
    if namespace:
        names |= {f"{namespace}/{name}", f"{namespace}:{name}"}
    return {item.lower() for item in names if item}


def _covers_any(acceptance: Acceptance, finding: Finding) -> bool:
    if _id_key(acceptance.vulnerability_id) != _id_key(finding.vulnerability_id):
        return False
    if acceptance.package is None:
        return True
    return any(package_matches(acceptance.package, package) for package in finding.packages)


def _covering(finding: Finding, active: Sequence[Acceptance]) -> Acceptance | None:
    candidates = [a for a in active if _covers_any(a, finding)]
    if not candidates:
        return None
    if any(candidate.package is None for candidate in candidates):
        covered = True
    else:
        covered = bool(finding.packages) and all(
            any(
                candidate.package is not None and package_matches(candidate.package, package)
                for candidate in candidates
            )
            for package in finding.packages
        )
    if not covered:
        return None
    return max(candidates, key=_specificity)


def _specificity(acceptance: Acceptance) -> tuple[int, date]:
    scoped = (acceptance.image is not None) + (acceptance.package is not None)
    return scoped, acceptance.expires


def _marked(finding: Finding, acceptance: Acceptance | None) -> Finding:
    if finding.accepted == acceptance:
        return finding
    return finding.model_copy(update={"accepted": acceptance})


def _id_key(vulnerability_id: str) -> str:
    return vulnerability_id.strip().upper()


def _package_key(package: str | None) -> str | None:
    return package.lower() if package is not None else None
