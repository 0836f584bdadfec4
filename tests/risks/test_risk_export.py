"""Exports of the register: OpenVEX v0.2.0 JSON and Trivy's .trivyignore.yaml."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml
from risk_samples import TODAY, acceptance

from hullcheck.analysis.models import Acceptance, VexJustification
from hullcheck.analysis.risks import RiskRegisterError
from hullcheck.analysis.risks_export import (
    export_openvex,
    export_trivyignore,
    oci_purl,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
EXPIRED = date(2026, 2, 1)

# Required fields, allowed fields and enums of the OpenVEX v0.2.0 JSON schema
# (openvex_json_schema.json in github.com/openvex/spec).
DOCUMENT_REQUIRED = {"@context", "@id", "author", "timestamp", "version", "statements"}
DOCUMENT_ALLOWED = DOCUMENT_REQUIRED | {"role", "last_updated", "tooling"}
STATEMENT_REQUIRED = {"vulnerability", "status"}
STATEMENT_ALLOWED = STATEMENT_REQUIRED | {
    "@id",
    "version",
    "timestamp",
    "last_updated",
    "products",
    "supplier",
    "status_notes",
    "justification",
    "impact_statement",
    "action_statement",
    "action_statement_timestamp",
}
STATUSES = {"not_affected", "affected", "fixed", "under_investigation"}
JUSTIFICATIONS = {
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
}
COMPONENT_ALLOWED = {"@id", "identifiers", "hashes", "subcomponents"}


def _check_time(value: object) -> None:
    assert isinstance(value, str)
    assert "T" in value
    assert datetime.fromisoformat(value).tzinfo is not None


def _check_component(component: dict[str, Any]) -> None:
    assert set(component) <= COMPONENT_ALLOWED
    # A product must be addressable: an IRI in @id or a software identifier.
    assert "@id" in component or "identifiers" in component
    if "@id" in component:
        assert component["@id"].split(":", 1)[0] in {"pkg", "https", "urn"}
    for sub in component.get("subcomponents", []):
        assert set(sub) <= {"@id", "identifiers", "hashes"}


def check_openvex(document: dict[str, Any]) -> None:
    """Assert what the OpenVEX v0.2.0 schema and specification require of a document."""
    assert set(document) >= DOCUMENT_REQUIRED
    assert set(document) <= DOCUMENT_ALLOWED
    assert document["@context"] == "https://openvex.dev/ns/v0.2.0"
    assert isinstance(document["@id"], str)
    assert document["@id"].startswith("urn:uuid:")
    assert isinstance(document["author"], str)
    assert document["author"]
    _check_time(document["timestamp"])
    assert isinstance(document["version"], int)
    assert document["version"] >= 1
    assert isinstance(document["statements"], list)
    assert len(document["statements"]) >= 1

    for statement in document["statements"]:
        assert set(statement) >= STATEMENT_REQUIRED
        assert set(statement) <= STATEMENT_ALLOWED
        assert set(statement["vulnerability"]) <= {"@id", "name", "description", "aliases"}
        assert isinstance(statement["vulnerability"]["name"], str)
        assert statement["status"] in STATUSES
        # A statement is complete only with a product (the specification's inheritance
        # rules allow it from an enclosing document, which this one is not).
        assert statement["products"]
        for product in statement["products"]:
            _check_component(product)
        for key in ("timestamp", "action_statement_timestamp"):
            if key in statement:
                _check_time(statement[key])
        if statement["status"] == "affected":
            assert statement["action_statement"]
        if statement["status"] == "not_affected":
            # The schema takes exactly one of justification and impact_statement.
            assert ("justification" in statement) != ("impact_statement" in statement)
            if "justification" in statement:
                assert statement["justification"] in JUSTIFICATIONS


def _openvex(entries: list[Acceptance], **options: Any) -> dict[str, Any]:
    result = export_openvex(entries, author="ops@example.org", today=TODAY, now=NOW, **options)
    document: dict[str, Any] = json.loads(result.text)
    return document


def test_openvex_valid_document() -> None:
    entries = [
        acceptance("CVE-2023-45853", image="docker.io/library/postgres:16", package="zlib1g"),
        acceptance("CVE-2023-4911", image="docker.io/library/postgres"),
        acceptance("CVE-2024-0727", package="pkg:deb/debian/libssl3"),
    ]

    document = _openvex(entries)

    check_openvex(document)
    assert document["author"] == "ops@example.org"
    assert document["timestamp"] == "2026-03-01T09:30:00Z"
    assert len(document["statements"]) == 3


def test_openvex_accepted_risk_is_affected() -> None:
    entry = acceptance("CVE-2023-4911", image="docker.io/library/postgres:16")

    statement = _openvex([entry])["statements"][0]

    assert statement["vulnerability"] == {"name": "CVE-2023-4911"}
    assert statement["status"] == "affected"
    assert statement["action_statement"] == (
        "Risk accepted until 2026-06-30: reviewed: the vulnerable code path is not used"
    )
    assert statement["timestamp"] == "2026-02-01T00:00:00Z"
    assert statement["products"] == [
        {
            "@id": "pkg:oci/postgres?repository_url=docker.io/library/postgres&tag=16",
            "identifiers": {
                "purl": "pkg:oci/postgres?repository_url=docker.io/library/postgres&tag=16"
            },
        }
    ]


def test_openvex_justified_is_not_affected() -> None:
    entry = acceptance(
        "CVE-2023-4863", image="docker.io/library/nginx:1.27", package="pkg:deb/debian/libwebp7"
    ).model_copy(update={"justification": VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH})

    document = _openvex([entry])

    check_openvex(document)
    statement = document["statements"][0]
    assert statement["status"] == "not_affected"
    assert statement["justification"] == "vulnerable_code_not_in_execute_path"
    assert "action_statement" not in statement
    assert statement["products"][0]["subcomponents"] == [{"@id": "pkg:deb/debian/libwebp7"}]


def test_openvex_images_for_global_entries() -> None:
    entry = acceptance("CVE-2023-4911")

    document = _openvex([entry], images=["postgres:16", "redis:7", "postgres:16"])

    check_openvex(document)
    ids = [product["@id"] for product in document["statements"][0]["products"]]
    assert ids == [
        "pkg:oci/postgres?repository_url=docker.io/library/postgres&tag=16",
        "pkg:oci/redis?repository_url=docker.io/library/redis&tag=7",
    ]


def test_openvex_skips_unnamed_products() -> None:
    entries = [
        acceptance("CVE-2023-4911"),
        acceptance("CVE-2023-45853", package="zlib1g"),
        acceptance("CVE-2024-0727", package="pkg:deb/debian/libssl3"),
    ]

    result = export_openvex(entries, author="ops", today=TODAY, now=NOW)

    names = [s["vulnerability"]["name"] for s in json.loads(result.text)["statements"]]
    assert names == ["CVE-2024-0727"]
    assert [skipped.acceptance.vulnerability_id for skipped in result.skipped] == [
        "CVE-2023-45853",
        "CVE-2023-4911",
    ]
    assert "--image" in result.skipped[0].reason


def test_openvex_leaves_out_expired() -> None:
    entries = [
        acceptance("CVE-2023-4911", image="docker.io/library/postgres", expires=EXPIRED),
        acceptance("CVE-2024-0727", image="docker.io/library/postgres"),
    ]

    document = _openvex(entries)

    assert [s["vulnerability"]["name"] for s in document["statements"]] == ["CVE-2024-0727"]


def test_openvex_without_statements_fails() -> None:
    with pytest.raises(RiskRegisterError, match="no active acceptance"):
        export_openvex(
            [acceptance("CVE-2023-4911", expires=EXPIRED)], author="ops", today=TODAY, now=NOW
        )


def test_openvex_id_follows_content() -> None:
    first = acceptance("CVE-2023-4911", image="docker.io/library/postgres")
    second = acceptance("CVE-2024-0727", image="docker.io/library/postgres")

    same = _openvex([first])["@id"]
    again = _openvex([first])["@id"]
    changed = _openvex([first, second])["@id"]

    assert same == again
    assert changed != same


@pytest.mark.parametrize(
    ("image", "purl"),
    [
        ("nginx", "pkg:oci/nginx?repository_url=docker.io/library/nginx"),
        (
            "ghcr.io/example/app:2.1",
            "pkg:oci/app?repository_url=ghcr.io/example/app&tag=2.1",
        ),
        (
            "localhost:5000/team/app@sha256:" + "ab" * 32,
            "pkg:oci/app@sha256%3A" + "ab" * 32 + "?repository_url=localhost:5000/team/app",
        ),
    ],
)
def test_oci_purl(image: str, purl: str) -> None:
    assert oci_purl(image) == purl


def _trivyignore(entries: list[Acceptance], image: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        export_trivyignore(entries, today=TODAY, image=image).text
    )
    return document


def test_trivyignore_shape() -> None:
    entries = [
        acceptance("CVE-2023-4911"),
        acceptance("CVE-2024-0727", package="pkg:deb/debian/libssl3"),
    ]

    document = _trivyignore(entries)

    assert list(document) == ["vulnerabilities"]
    assert document["vulnerabilities"] == [
        {
            "id": "CVE-2023-4911",
            "statement": "reviewed: the vulnerable code path is not used (hullcheck: all images)",
            "expired_at": date(2026, 6, 30),
        },
        {
            "id": "CVE-2024-0727",
            "purls": ["pkg:deb/debian/libssl3"],
            "statement": "reviewed: the vulnerable code path is not used "
            "(hullcheck: package pkg:deb/debian/libssl3 in all images)",
            "expired_at": date(2026, 6, 30),
        },
    ]


def test_trivyignore_date_unquoted() -> None:
    text = export_trivyignore([acceptance("CVE-2023-4911")], today=TODAY).text

    # Trivy reads expired_at as a YAML timestamp, so the date must not be a quoted string.
    assert "\n  expired_at: 2026-06-30\n" in text


def test_trivyignore_image_entries() -> None:
    entries = [
        acceptance("CVE-2023-4911", image="docker.io/library/postgres"),
        acceptance("CVE-2023-4863", image="docker.io/library/nginx"),
        acceptance("CVE-2024-0727"),
    ]

    without_image = export_trivyignore(entries, today=TODAY)
    for_postgres = export_trivyignore(entries, today=TODAY, image="postgres:16")

    assert [e["id"] for e in yaml.safe_load(without_image.text)["vulnerabilities"]] == [
        "CVE-2024-0727"
    ]
    assert len(without_image.skipped) == 2
    assert [e["id"] for e in yaml.safe_load(for_postgres.text)["vulnerabilities"]] == [
        "CVE-2023-4911",
        "CVE-2024-0727",
    ]
    assert for_postgres.skipped == ()


def test_trivyignore_skips_package_names() -> None:
    result = export_trivyignore([acceptance("CVE-2023-45853", package="zlib1g")], today=TODAY)

    assert yaml.safe_load(result.text) == {"vulnerabilities": []}
    assert "package URL" in result.skipped[0].reason


def test_trivyignore_leaves_out_expired() -> None:
    document = _trivyignore([acceptance("CVE-2023-4911", expires=EXPIRED)])

    assert document == {"vulnerabilities": []}
