"""Reading Trivy JSON: optional fields, severities, statuses and rejected layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullcheck.analysis.models import Severity
from hullcheck.analysis.trivy_json import (
    ReportFormatError,
    ReportReadError,
    load_trivy_report,
    parse_trivy_report,
)


def vulnerability(
    vulnerability_id: str, package: str, severity: str, **fields: Any
) -> dict[str, Any]:
    return {"VulnerabilityID": vulnerability_id, "PkgName": package, "Severity": severity, **fields}


def report(*results: dict[str, Any], **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "SchemaVersion": 2,
        "ArtifactName": "example/app:1.0",
        "ArtifactType": "container_image",
        **fields,
    }
    if results:
        document["Results"] = list(results)
    return document


# Trivy omits Results when nothing was found, and older releases wrote null in place of
# an empty Vulnerabilities list.
NO_OS_NO_RESULTS = {
    "SchemaVersion": 2,
    "ArtifactName": "example/app:1.0",
    "ArtifactType": "container_image",
    "Metadata": {"OS": {"Family": "none", "Name": ""}},
}
OS_RESULT_WITHOUT_VULNERABILITIES = {
    "SchemaVersion": 2,
    "ArtifactName": "example/os:5.4",
    "ArtifactType": "container_image",
    "Results": [{"Target": "example/os:5.4 (slem 5.4)", "Class": "os-pkgs", "Type": "slem"}],
}
CUSTOM_RESULT_WITHOUT_TYPE = {
    "SchemaVersion": 2,
    "ArtifactName": "example/jre:11",
    "ArtifactType": "container_image",
    "Results": [
        {"Target": "example/jre:11 (debian 11.3)", "Class": "os-pkgs", "Type": "debian"},
        {
            "Target": "",
            "Class": "custom",
            "CustomResources": [{"Type": "example", "FilePath": "x", "Data": {}}],
        },
    ],
}


@pytest.mark.parametrize(
    "document",
    [NO_OS_NO_RESULTS, OS_RESULT_WITHOUT_VULNERABILITIES, CUSTOM_RESULT_WITHOUT_TYPE],
    ids=["no-results", "os-result-only", "custom-result"],
)
def test_empty_reports_count_zero(document: dict[str, Any]) -> None:
    findings = parse_trivy_report(document)

    assert findings.findings == ()
    assert findings.counts().CRITICAL == 0
    assert findings.counts().HIGH == 0


def test_no_os_and_no_results_is_nothing_analysed() -> None:
    findings = parse_trivy_report(NO_OS_NO_RESULTS)

    assert findings.analysed is False
    assert findings.os_family == "none"
    assert findings.os_name is None


def test_os_result_without_vulnerabilities_is_analysed() -> None:
    assert parse_trivy_report(OS_RESULT_WITHOUT_VULNERABILITIES).analysed is True
    assert parse_trivy_report(CUSTOM_RESULT_WITHOUT_TYPE).analysed is True


def test_detected_os_without_results_is_analysed() -> None:
    document = report(Metadata={"OS": {"Family": "alpine", "Name": "3.21.2"}})

    findings = parse_trivy_report(document)

    assert findings.analysed is True
    assert findings.os_family == "alpine"
    assert findings.os_name == "3.21.2"


def test_language_packages_without_os_are_analysed() -> None:
    # A lang-pkgs Result exists only for packages Trivy found, even when none is vulnerable.
    document = report({"Target": "app/package-lock.json", "Class": "lang-pkgs", "Type": "npm"})

    assert parse_trivy_report(document).analysed is True


@pytest.mark.parametrize(
    "metadata",
    [{}, {"OS": {}}, {"OS": {"Family": ""}}, {"OS": {"Family": "none"}}, {"OS": None}],
    ids=["no-os", "empty-os", "empty-family", "family-none", "null-os"],
)
def test_secret_result_alone_is_nothing_analysed(metadata: dict[str, Any]) -> None:
    document = report({"Target": "/app/.env", "Class": "secret"}, Metadata=metadata)

    assert parse_trivy_report(document).analysed is False


def test_null_vulnerabilities_and_results() -> None:
    with_null_list = report({"Target": "t", "Class": "os-pkgs", "Vulnerabilities": None})
    with_null_results = {**report(), "Results": None}

    assert parse_trivy_report(with_null_list).findings == ()
    assert parse_trivy_report(with_null_results).findings == ()
    assert parse_trivy_report(with_null_results).analysed is False


def test_severity_is_trivy_top_level_string() -> None:
    # Trivy took LOW from Debian, so NVD's HIGH is display detail only.
    bash = vulnerability(
        "CVE-2000-0002",
        "bash",
        "LOW",
        InstalledVersion="5.0-4",
        Status="affected",
        SeveritySource="debian",
        VendorSeverity={"nvd": 3, "debian": 1, "redhat": 1},
        CVSS={"nvd": {"V3Score": 7.8}},
    )
    document = report(
        {"Target": "t", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [bash]}
    )

    findings = parse_trivy_report(document)
    counts = findings.counts()

    assert findings.findings[0].severity is Severity.LOW
    assert findings.findings[0].severity_source == "debian"
    assert findings.findings[0].vendor_severity == {"nvd": 3, "debian": 1, "redhat": 1}
    assert counts.LOW == 1
    assert counts.CRITICAL == 0
    assert counts.HIGH == 0


def test_ghsa_high_stays_high_when_nvd_says_critical() -> None:
    gem = vulnerability(
        "CVE-2020-8165",
        "activesupport",
        "HIGH",
        SeveritySource="ghsa",
        VendorSeverity={"ghsa": 3, "nvd": 4, "redhat": 3},
        FixedVersion="6.0.3.1, 5.2.4.3",
        Status="fixed",
    )
    libidn = vulnerability(
        "CVE-2019-18224", "libidn2-0", "CRITICAL", FixedVersion="2.0.5-1+deb10u1", Status="fixed"
    )
    document = report(
        {
            "Target": "img (debian 10.2)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [libidn],
        },
        {"Target": "Ruby", "Class": "lang-pkgs", "Type": "gemspec", "Vulnerabilities": [gem]},
    )

    counts = parse_trivy_report(document).counts()

    assert counts.CRITICAL == 1
    assert counts.HIGH == 1


def test_unknown_severity_string_is_unknown() -> None:
    document = report({"Target": "t", "Vulnerabilities": [vulnerability("CVE-1", "a", "SEVERE")]})

    findings = parse_trivy_report(document)

    assert findings.findings[0].severity is Severity.UNKNOWN
    assert findings.counts().UNKNOWN == 1


STATUS_CASES = [
    vulnerability("CVE-2000-0005", "a", "HIGH", InstalledVersion="1", Status="will_not_fix"),
    vulnerability("CVE-2000-0006", "b", "CRITICAL", InstalledVersion="1", Status="fix_deferred"),
    vulnerability("CVE-2000-0007", "c", "HIGH", InstalledVersion="1", Status="end_of_life"),
    vulnerability("CVE-2000-0008", "d", "HIGH", InstalledVersion="1", Status="affected"),
    vulnerability(
        "CVE-2000-0009", "e", "CRITICAL", InstalledVersion="1", FixedVersion="2", Status="fixed"
    ),
    vulnerability("CVE-2000-0010", "f", "HIGH", InstalledVersion="1", FixedVersion="2"),
    vulnerability("CVE-2000-0011", "g", "HIGH", InstalledVersion="1", Status="some_future_status"),
]


def test_status_values_split_fixable_and_unfixed() -> None:
    document = report(
        {"Target": "t", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": STATUS_CASES}
    )

    findings = parse_trivy_report(document)
    total = findings.counts()
    fixable = findings.counts(fixable_only=True)

    assert (total.CRITICAL, total.HIGH) == (2, 5)
    assert (fixable.CRITICAL, fixable.HIGH) == (1, 1)
    assert (total.CRITICAL - fixable.CRITICAL, total.HIGH - fixable.HIGH) == (1, 4)
    fixable_ids = {f.vulnerability_id for f in findings.findings if f.fixable}
    assert fixable_ids == {"CVE-2000-0009", "CVE-2000-0010"}


def test_status_kept_as_given_or_none() -> None:
    document = report({"Target": "t", "Vulnerabilities": STATUS_CASES})

    statuses = {
        f.vulnerability_id: f.packages[0].status for f in parse_trivy_report(document).findings
    }

    assert statuses["CVE-2000-0011"] == "some_future_status"
    assert statuses["CVE-2000-0010"] is None


def test_empty_fixed_version_is_not_fixable() -> None:
    entry = vulnerability("CVE-1", "a", "HIGH", FixedVersion="", Status="affected")
    document = report({"Target": "t", "Vulnerabilities": [entry]})

    finding = parse_trivy_report(document).findings[0]

    assert finding.packages[0].fixed_version is None
    assert finding.fixable is False


def test_same_id_across_results_is_one_finding() -> None:
    os_entry = vulnerability(
        "CVE-2024-0727", "libssl3", "MEDIUM", InstalledVersion="3.0.11-1", Title="openssl: crash"
    )
    lang_entry = vulnerability(
        "CVE-2024-0727", "cryptography", "HIGH", InstalledVersion="41.0.0", FixedVersion="42.0.2"
    )
    other = vulnerability("CVE-2023-2650", "libssl3", "MEDIUM", FixedVersion="3.0.9-1")
    document = report(
        {
            "Target": "img (debian 12.4)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [os_entry, other],
        },
        {
            "Target": "usr/lib/python3/dist-packages",
            "Class": "lang-pkgs",
            "Type": "python-pkg",
            "Vulnerabilities": [lang_entry],
        },
    )

    findings = parse_trivy_report(document)
    merged = next(f for f in findings.findings if f.vulnerability_id == "CVE-2024-0727")

    assert len(findings.findings) == 2
    assert merged.severity is Severity.HIGH
    assert [p.name for p in merged.packages] == ["libssl3", "cryptography"]
    assert [p.package_class for p in merged.packages] == ["os-pkgs", "lang-pkgs"]
    assert [p.package_type for p in merged.packages] == ["debian", "python-pkg"]
    assert merged.title == "openssl: crash"
    assert findings.counts().HIGH == 1
    assert findings.counts().MEDIUM == 1


def test_higher_severity_seen_first_is_kept() -> None:
    entries = [
        vulnerability("CVE-1", "a", "CRITICAL", SeveritySource="nvd"),
        vulnerability("CVE-1", "b", "LOW", SeveritySource="debian"),
    ]
    document = report({"Target": "t", "Vulnerabilities": entries})

    finding = parse_trivy_report(document).findings[0]

    assert finding.severity is Severity.CRITICAL
    assert finding.severity_source == "nvd"


def test_repeated_package_listed_once() -> None:
    entry = vulnerability(
        "CVE-1", "log4j", "CRITICAL", InstalledVersion="2.14", PkgPath="app/a.jar"
    )
    document = report(
        {"Target": "Java", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [entry, entry]}
    )

    finding = parse_trivy_report(document).findings[0]

    assert len(finding.packages) == 1
    assert finding.packages[0].path == "app/a.jar"


def test_findings_sorted_by_severity_then_id() -> None:
    entries = [
        vulnerability("CVE-3", "a", "LOW"),
        vulnerability("CVE-2", "a", "CRITICAL"),
        vulnerability("CVE-1", "a", "HIGH"),
        vulnerability("CVE-0", "a", "CRITICAL"),
    ]
    document = report({"Target": "t", "Vulnerabilities": entries})

    ids = [f.vulnerability_id for f in parse_trivy_report(document).findings]

    assert ids == ["CVE-0", "CVE-2", "CVE-1", "CVE-3"]


def test_metadata_and_trivy_version_read() -> None:
    document = report(
        Trivy={"Version": "0.76.0"},
        Metadata={
            "OS": {"Family": "alpine", "Name": "3.19.1", "EOSL": True},
            "ImageID": "sha256:" + "a" * 64,
            "RepoDigests": ["example/app@sha256:" + "b" * 64, "example/app@sha256:" + "c" * 64],
        },
    )

    findings = parse_trivy_report(document)

    assert findings.trivy_version == "0.76.0"
    assert findings.image_id == "sha256:" + "a" * 64
    assert findings.repo_digests == (
        "example/app@sha256:" + "b" * 64,
        "example/app@sha256:" + "c" * 64,
    )
    assert findings.os_eosl is True
    assert findings.artifact_name == "example/app:1.0"
    assert findings.schema_version == 2


def test_missing_optional_blocks_give_none() -> None:
    findings = parse_trivy_report({"SchemaVersion": 2})

    assert findings.trivy_version is None
    assert findings.image_id is None
    assert findings.repo_digests == ()
    assert findings.artifact_name == ""
    assert findings.os_eosl is False


def test_top_level_array_rejected_as_old_layout() -> None:
    old_layout = [
        {"Target": "example/app:1.0 (alpine 3.10.2)", "Type": "alpine", "Vulnerabilities": None}
    ]

    with pytest.raises(ReportFormatError) as caught:
        parse_trivy_report(old_layout, source="old.json")

    assert "old.json" in caught.value.message
    assert "no SchemaVersion" in caught.value.message
    assert "Trivy < 0.20" in caught.value.message
    assert caught.value.hint is not None
    assert "--format json" in caught.value.hint


def test_object_without_schema_version_rejected() -> None:
    with pytest.raises(
        ReportFormatError, match=r"in x\.json: no SchemaVersion \(output of Trivy < 0\.20\?\)"
    ):
        parse_trivy_report({"Results": []}, source="x.json")


@pytest.mark.parametrize("version", [1, 3, "2", True, None, 2.5])
def test_unknown_schema_version_rejected(version: object) -> None:
    with pytest.raises(ReportFormatError, match="SchemaVersion") as caught:
        parse_trivy_report({"SchemaVersion": version}, source="x.json")

    assert "x.json" in caught.value.message


@pytest.mark.parametrize(
    "document", ["text", 2, None, True], ids=["string", "number", "null", "bool"]
)
def test_non_object_rejected(document: object) -> None:
    with pytest.raises(ReportFormatError, match="expected an object"):
        parse_trivy_report(document, source="x.json")


@pytest.mark.parametrize("field", ["VulnerabilityID", "PkgName", "Severity"])
def test_missing_required_field_names_index(field: str) -> None:
    entry = vulnerability("CVE-1", "a", "HIGH")
    del entry[field]
    document = report(
        {"Target": "t", "Vulnerabilities": []},
        {"Target": "u", "Vulnerabilities": [vulnerability("CVE-2", "b", "LOW"), entry]},
    )

    with pytest.raises(ReportFormatError) as caught:
        parse_trivy_report(document, source="r.json")

    assert (
        caught.value.message
        == f"invalid Trivy JSON in r.json: Results[1].Vulnerabilities[1] has no {field}"
    )


def test_empty_required_field_rejected() -> None:
    document = report({"Target": "t", "Vulnerabilities": [vulnerability("", "a", "HIGH")]})

    with pytest.raises(
        ReportFormatError, match=r"Results\[0\]\.Vulnerabilities\[0\] has an empty VulnerabilityID"
    ):
        parse_trivy_report(document)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"SchemaVersion": 2, "Results": {"Target": "t"}}, "Results is an object"),
        ({"SchemaVersion": 2, "Results": ["t"]}, "Results[0] is a string"),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": "none"}]},
            "Results[0].Vulnerabilities is a string",
        ),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [3]}]},
            "Results[0].Vulnerabilities[0] is the number 3",
        ),
        ({"SchemaVersion": 2, "Metadata": {"OS": {"EOSL": "yes"}}}, "Metadata.OS.EOSL is a string"),
        (
            {"SchemaVersion": 2, "Metadata": {"RepoDigests": [1]}},
            "Metadata.RepoDigests[0] is the number 1",
        ),
        ({"SchemaVersion": 2, "Trivy": "0.76.0"}, "Trivy is a string"),
    ],
)
def test_wrong_types_name_the_field(document: dict[str, Any], path: str) -> None:
    with pytest.raises(ReportFormatError) as caught:
        parse_trivy_report(document)

    assert path in caught.value.message


def test_wrong_vendor_severity_named() -> None:
    entry = vulnerability("CVE-1", "a", "HIGH", VendorSeverity={"nvd": "HIGH"})
    document = report({"Target": "t", "Vulnerabilities": [entry]})

    with pytest.raises(
        ReportFormatError, match=r"Vulnerabilities\[0\]\.VendorSeverity\.nvd is a string"
    ):
        parse_trivy_report(document)


def test_load_reads_file(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(
        json.dumps(report({"Target": "t", "Vulnerabilities": STATUS_CASES})), encoding="utf-8"
    )

    findings = load_trivy_report(path)

    assert len(findings.findings) == 7


def test_load_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"SchemaVersion": 2,\n "Results": [', encoding="utf-8")

    with pytest.raises(ReportFormatError) as caught:
        load_trivy_report(path)

    assert str(path) in caught.value.message
    assert "line 2" in caught.value.message


def test_load_missing_file_is_read_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    with pytest.raises(ReportReadError) as caught:
        load_trivy_report(path)

    assert caught.value.message == f"cannot read Trivy report {path}: No such file or directory"


def test_load_schema_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('[{"Target": "x", "Vulnerabilities": null}]', encoding="utf-8")

    with pytest.raises(ReportFormatError, match=str(path)):
        load_trivy_report(path)


# Any JSON value in any known field must give findings or a ReportFormatError, never
# another exception.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
OPTIONAL_VULNERABILITY_KEYS = [
    "InstalledVersion",
    "FixedVersion",
    "Status",
    "SeveritySource",
    "VendorSeverity",
    "Title",
    "PrimaryURL",
    "PkgPath",
]
fuzzed_vulnerability = st.fixed_dictionaries(
    {
        "VulnerabilityID": st.just("CVE-1") | json_values,
        "PkgName": st.just("a") | json_values,
        "Severity": st.sampled_from(["HIGH", "x"]) | json_values,
    },
    optional={key: json_values for key in OPTIONAL_VULNERABILITY_KEYS},
)
fuzzed_result = st.fixed_dictionaries(
    {},
    optional={
        "Target": json_values,
        "Class": st.sampled_from(["os-pkgs", "lang-pkgs", "custom"]) | json_values,
        "Type": json_values,
        "Packages": json_values,
        "Vulnerabilities": st.lists(fuzzed_vulnerability | json_values, max_size=3) | json_values,
    },
)
fuzzed_report = st.fixed_dictionaries(
    {"SchemaVersion": st.just(2) | json_values},
    optional={
        "ArtifactName": json_values,
        "Trivy": st.fixed_dictionaries({}, optional={"Version": json_values}) | json_values,
        "Metadata": st.fixed_dictionaries(
            {},
            optional={
                "OS": st.fixed_dictionaries(
                    {}, optional={"Family": json_values, "Name": json_values, "EOSL": json_values}
                )
                | json_values,
                "ImageID": json_values,
                "RepoDigests": json_values,
            },
        )
        | json_values,
        "Results": st.lists(fuzzed_result | json_values, max_size=3) | json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(fuzzed_report)
def test_any_json_gives_findings_or_format_error(document: dict[str, Any]) -> None:
    try:
        findings = parse_trivy_report(document)
    except ReportFormatError as error:
        assert error.message.startswith(("invalid Trivy JSON in", "unsupported Trivy JSON in"))
        return
    assert findings.schema_version == 2
