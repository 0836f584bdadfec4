"""Export the risk register as an OpenVEX v0.2.0 document or a Trivy ``.trivyignore.yaml``.

OpenVEX status: an accepted risk leaves the image vulnerable, so its statement has the status
``affected`` and puts the reason and the expiry in ``action_statement``. Only an entry
with a ``justification`` (the owner states the image is not affected) becomes
``not_affected`` with that label. Its reason goes to ``status_notes``, because the
OpenVEX v0.2.0 JSON schema accepts a justification or an impact_statement, not both.
Trivy's ``--vex`` option filters out findings that a ``not_affected`` statement covers,
so it keeps showing accepted risks. ``.trivyignore.yaml`` is the file that hides them in
Trivy.

Expired entries are left out of both files.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote

import yaml

from hullcheck import __version__
from hullcheck.analysis.models import Acceptance, ImageFindings
from hullcheck.analysis.risks import RiskRegisterError, image_matches, scope_text
from hullcheck.discovery.references import parse_reference

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"

JsonObject = dict[str, object]


@dataclass(frozen=True)
class Skipped:
    acceptance: Acceptance
    reason: str


@dataclass(frozen=True)
class ExportResult:
    text: str
    skipped: tuple[Skipped, ...] = ()
    """Active entries the format cannot express, with the reason and the fix."""


def export_openvex(
    acceptances: Sequence[Acceptance],
    *,
    author: str,
    today: date,
    now: datetime | None = None,
    images: Sequence[str] = (),
) -> ExportResult:
    """Render the active entries as one OpenVEX v0.2.0 JSON document.

    Each statement's products are the entry's image, else the ``images`` given, else the
    entry's package URL. An entry with none of these (all images, or a package given by
    name) is skipped, because an OpenVEX statement must name a product. Raises
    RiskRegisterError when no statement remains, since the schema requires at least one.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    statements: list[JsonObject] = []
    skipped: list[Skipped] = []
    for acceptance in _active(acceptances, today):
        products = _products(acceptance, images)
        if not products:
            skipped.append(Skipped(acceptance, _no_product_reason(acceptance)))
            continue
        statements.append(_statement(acceptance, products))

    if not statements:
        raise RiskRegisterError(
            "no active acceptance can be exported as an OpenVEX statement",
            hint="accept a risk first, or pass --image REF to name the images that "
            "entries for all images apply to",
        )

    digest = hashlib.sha256(json.dumps(statements, sort_keys=True).encode()).hexdigest()
    document: JsonObject = {
        "@context": OPENVEX_CONTEXT,
        # The same statements always get the same ID; any change gives a new document.
        "@id": uuid.uuid5(uuid.NAMESPACE_URL, f"hullcheck:risks:{digest}").urn,
        "author": author,
        "timestamp": _timestamp(moment),
        "version": 1,
        "tooling": f"hullcheck {__version__}",
        "statements": statements,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return ExportResult(text=text, skipped=tuple(skipped))


def export_trivyignore(
    acceptances: Sequence[Acceptance],
    *,
    today: date,
    image: str | None = None,
) -> ExportResult:
    """Render the active entries as Trivy's ``.trivyignore.yaml`` for one scan.

    An ignore file applies to whatever Trivy scans with it, so entries for one image are
    included only when ``image`` names that image. Trivy selects packages by package URL,
    so an entry whose package is a plain name is skipped.
    """
    entries: list[JsonObject] = []
    skipped: list[Skipped] = []
    subject = ImageFindings(artifact_name=image or "", schema_version=2)
    for acceptance in _active(acceptances, today):
        if acceptance.image is not None:
            if image is None:
                skipped.append(
                    Skipped(acceptance, "it covers one image; pass --image REF for that image")
                )
                continue
            if not image_matches(acceptance, image, subject):
                continue
        entry: JsonObject = {"id": acceptance.vulnerability_id}
        if acceptance.package is not None:
            if not acceptance.package.startswith("pkg:"):
                skipped.append(
                    Skipped(
                        acceptance,
                        "Trivy selects packages by package URL; change the entry's package "
                        "to one, such as pkg:deb/debian/NAME",
                    )
                )
                continue
            entry["purls"] = [acceptance.package]
        entry["statement"] = f"{acceptance.reason} (hullcheck: {scope_text(acceptance)})"
        # An unquoted YAML date, which Trivy reads as a time and applies from 00:00 UTC.
        entry["expired_at"] = acceptance.expires
        entries.append(entry)

    header = "# Generated by hullcheck from its risk register; edit the register instead.\n"
    if image is not None:
        header += f"# For scans of {image}.\n"
    body = yaml.safe_dump(
        {"vulnerabilities": entries},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )
    return ExportResult(text=header + body, skipped=tuple(skipped))


def oci_purl(image: str) -> str:
    """Return the package URL of an image: ``pkg:oci/NAME[@DIGEST]?repository_url=...``.

    NOTE: this follows the purl specification's oci example (``repository_url`` with
    ``docker.io`` and a ``tag`` qualifier). Trivy 0.76 builds image purls with
    ``index.docker.io`` and no tag. Its ``--vex`` matching therefore skips statements
    whose product is such an image, while a package URL product does match.
    """
    reference = parse_reference(image)
    name = reference.repository.rsplit("/", 1)[-1]
    text = f"pkg:oci/{quote(name)}"
    if reference.digest is not None:
        text += "@" + quote(reference.digest, safe="")
    qualifiers = [f"repository_url={quote(reference.name, safe='/:')}"]
    if reference.tag is not None:
        qualifiers.append(f"tag={quote(reference.tag, safe='')}")
    return text + "?" + "&".join(qualifiers)


def _active(acceptances: Sequence[Acceptance], today: date) -> list[Acceptance]:
    active = [acceptance for acceptance in acceptances if not acceptance.expired(today)]
    return sorted(
        active,
        key=lambda a: (a.vulnerability_id, a.image or "", a.package or ""),
    )


def _products(acceptance: Acceptance, images: Sequence[str]) -> list[JsonObject]:
    subcomponents: list[JsonObject] = []
    if acceptance.package is not None and acceptance.package.startswith("pkg:"):
        subcomponents.append({"@id": acceptance.package})

    own_image = [acceptance.image] if acceptance.image is not None else []
    targets = own_image or list(dict.fromkeys(images))
    if not targets:
        # A package URL is itself a product identifier.
        return list(subcomponents)

    products: list[JsonObject] = []
    for target in targets:
        purl = oci_purl(target)
        product: JsonObject = {"@id": purl, "identifiers": {"purl": purl}}
        if subcomponents:
            product["subcomponents"] = subcomponents
        products.append(product)
    return products


def _no_product_reason(acceptance: Acceptance) -> str:
    if acceptance.package is not None:
        return (
            "it names the package by name only; pass --image REF for each image, or change "
            "the entry's package to a package URL such as pkg:deb/debian/NAME"
        )
    return "it covers all images; pass --image REF for each image it applies to"


def _statement(acceptance: Acceptance, products: list[JsonObject]) -> JsonObject:
    statement: JsonObject = {"vulnerability": {"name": acceptance.vulnerability_id}}
    if acceptance.accepted_on is not None:
        statement["timestamp"] = _timestamp(_midnight(acceptance.accepted_on))
    statement["products"] = products

    recorded = (
        f"Recorded in the hullcheck risk register for {scope_text(acceptance)}, "
        f"until {acceptance.expires.isoformat()}."
    )
    if acceptance.justification is not None:
        statement["status"] = "not_affected"
        statement["justification"] = acceptance.justification.value
        statement["status_notes"] = f"Not affected: {acceptance.reason}. {recorded}"
        return statement

    statement["status"] = "affected"
    statement["status_notes"] = recorded
    statement["action_statement"] = (
        f"Risk accepted until {acceptance.expires.isoformat()}: {acceptance.reason}"
    )
    if acceptance.accepted_on is not None:
        statement["action_statement_timestamp"] = _timestamp(_midnight(acceptance.accepted_on))
    return statement


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
