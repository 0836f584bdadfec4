"""Merging SBOMs and splitting the merged report, on small CycloneDX documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hullcheck.scanning.sbom_merge import (
    FILE_PATH,
    MergedGroup,
    MergeError,
    group_sboms,
    split_report,
)

DEB = "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12.7"
NPM = "pkg:npm/lodash@4.17.20"


def library(
    reference: str, purl: str, path: str | None = None, package_type: str = "npm"
) -> dict[str, Any]:
    properties = [{"name": "aquasecurity:trivy:PkgType", "value": package_type}]
    if path is not None:
        properties.insert(0, {"name": FILE_PATH, "value": path})
    return {
        "bom-ref": reference,
        "type": "library",
        "name": purl,
        "purl": purl,
        "properties": properties,
    }


def write_sbom(
    path: Path, image_id: str, libraries: list[dict[str, Any]], os_version: str = "12.7"
) -> Path:
    os_packages = [c["bom-ref"] for c in libraries if c["purl"].startswith("pkg:deb/")]
    others = [c["bom-ref"] for c in libraries if not c["purl"].startswith("pkg:deb/")]
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {
            "component": {
                "bom-ref": "root",
                "type": "container",
                "name": path.stem,
                "properties": [{"name": "aquasecurity:trivy:ImageID", "value": image_id}],
            }
        },
        "components": [
            {"bom-ref": "os", "type": "operating-system", "name": "debian", "version": os_version},
            *libraries,
        ],
        "dependencies": [
            {"ref": "root", "dependsOn": ["os", *others]},
            {"ref": "os", "dependsOn": os_packages},
        ],
    }
    path.write_text(json.dumps(document))
    return path


def one_group(*paths: Path) -> MergedGroup:
    groups, alone = group_sboms(paths)
    assert alone == []
    assert len(groups) == 1
    return groups[0]


def vulnerability(purl: str, path: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "VulnerabilityID": "CVE-2024-0001",
        "PkgName": purl,
        "PkgIdentifier": {"PURL": purl},
        "Severity": "HIGH",
    }
    if path is not None:
        entry["PkgPath"] = path
    return entry


def test_shared_package_listed_once(tmp_path: Path) -> None:
    group = one_group(
        write_sbom(tmp_path / "a.json", "sha256:a", [library("x", DEB, package_type="debian")]),
        write_sbom(tmp_path / "b.json", "sha256:b", [library("y", DEB, package_type="debian")]),
    )
    document = json.loads(group.document_text())
    libraries = [c for c in document["components"] if c["type"] == "library"]
    assert len(libraries) == 1
    assert group.occurrences[(DEB, None)] == [(0, None), (1, None)]
    assert group.error is None


def test_findings_copied_with_own_paths(tmp_path: Path) -> None:
    first = write_sbom(
        tmp_path / "a.json", "sha256:a", [library("x", NPM, "app/lodash/package.json")]
    )
    second = write_sbom(
        tmp_path / "b.json",
        "sha256:b",
        [
            library("y", NPM, "srv/lodash/package.json"),
            library("z", NPM, "opt/lodash/package.json"),
        ],
    )
    group = one_group(first, second)
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "merged.json",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.7"}},
        "Results": [
            {
                "Target": "Node.js",
                "Class": "lang-pkgs",
                "Type": "npm",
                "Vulnerabilities": [vulnerability(NPM, "app/lodash/package.json")],
            }
        ],
    }

    split = dict(split_report(report, group, "merged.json"))
    second_paths = [v["PkgPath"] for v in split[second]["Results"][0]["Vulnerabilities"]]
    assert second_paths == ["opt/lodash/package.json", "srv/lodash/package.json"]
    first_paths = [v["PkgPath"] for v in split[first]["Results"][0]["Vulnerabilities"]]
    assert first_paths == ["app/lodash/package.json"]
    assert split[second]["Metadata"]["ImageID"] == "sha256:b"
    assert split[second]["ArtifactName"] == str(second)


def test_os_target_named_after_member(tmp_path: Path) -> None:
    member = write_sbom(tmp_path / "a.json", "sha256:a", [library("x", DEB, package_type="debian")])
    other = write_sbom(tmp_path / "b.json", "sha256:b", [])
    group = one_group(member, other)
    report = {
        "Results": [
            {
                "Target": "/tmp/merged.json (debian 12.7)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [vulnerability(DEB)],
            }
        ]
    }
    split = dict(split_report(report, group, "/tmp/merged.json"))
    assert split[member]["Results"][0]["Target"] == f"{member} (debian 12.7)"
    assert split[other]["Results"][0]["Target"] == f"{other} (debian 12.7)"
    assert "Vulnerabilities" not in split[other]["Results"][0]


def test_result_left_out_without_packages(tmp_path: Path) -> None:
    with_npm = write_sbom(tmp_path / "a.json", "sha256:a", [library("x", NPM, "a/package.json")])
    without = write_sbom(tmp_path / "b.json", "sha256:b", [])
    group = one_group(with_npm, without)
    report = {"Results": [{"Target": "Node.js", "Class": "lang-pkgs", "Type": "npm"}]}
    split = dict(split_report(report, group, "merged.json"))
    assert len(split[with_npm]["Results"]) == 1
    assert split[without]["Results"] == []


def test_unknown_finding_raises(tmp_path: Path) -> None:
    group = one_group(
        write_sbom(tmp_path / "a.json", "sha256:a", [library("x", NPM, "a/package.json")]),
        write_sbom(tmp_path / "b.json", "sha256:b", []),
    )
    report = {
        "Results": [
            {
                "Target": "Node.js",
                "Class": "lang-pkgs",
                "Vulnerabilities": [vulnerability(NPM, "b/package.json")],
            }
        ]
    }
    with pytest.raises(MergeError, match="matches no merged package"):
        dict(split_report(report, group, "merged.json"))


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"Results": {"Target": "Node.js"}}, "no Metadata object or no Results list"),
        ({"Results": ["Node.js"]}, "is not a result"),
        ({"Results": [{"Target": "Node.js", "Vulnerabilities": {"CVE": 1}}]}, "is not a result"),
        ({"Results": [{"Target": "Node.js", "Vulnerabilities": ["CVE"]}]}, "not an object"),
    ],
)
def test_unexpected_report_shape_raises(
    tmp_path: Path, report: dict[str, Any], message: str
) -> None:
    group = one_group(
        write_sbom(tmp_path / "a.json", "sha256:a", [library("x", NPM, "a/package.json")]),
        write_sbom(tmp_path / "b.json", "sha256:b", []),
    )
    with pytest.raises(MergeError, match=message):
        dict(split_report(report, group, "merged.json"))


def test_conflicting_packages_mark_group(tmp_path: Path) -> None:
    plain = library("x", NPM, "a/package.json")
    licensed = {**library("y", NPM, "a/package.json"), "licenses": [{"license": {"id": "MIT"}}]}
    group = one_group(
        write_sbom(tmp_path / "a.json", "sha256:a", [plain]),
        write_sbom(tmp_path / "b.json", "sha256:b", [licensed]),
    )
    assert group.error is not None
    assert "share the purl and path" in group.error
    assert [member.path.name for member in group.members] == ["a.json", "b.json"]


def test_application_component_not_merged(tmp_path: Path) -> None:
    path = write_sbom(tmp_path / "a.json", "sha256:a", [library("x", NPM)])
    document = json.loads(path.read_text())
    document["components"].append(
        {"bom-ref": "app", "type": "application", "name": "package-lock.json"}
    )
    path.write_text(json.dumps(document))
    other = write_sbom(tmp_path / "b.json", "sha256:b", [library("y", NPM)])

    groups, alone = group_sboms([path, other])
    assert groups == []
    assert alone == [path, other]


def test_unreadable_sbom_not_merged(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    missing = tmp_path / "missing.json"
    groups, alone = group_sboms([broken, missing])
    assert groups == []
    assert alone == [broken, missing]


def test_groups_follow_os_release(tmp_path: Path) -> None:
    sboms = [
        write_sbom(tmp_path / f"{name}.json", f"sha256:{name}", [], os_version=version)
        for name, version in (("a", "12.7"), ("b", "12.8"), ("c", "12.7"))
    ]
    groups, alone = group_sboms(sboms)
    assert [[member.path.stem for member in group.members] for group in groups] == [["a", "c"]]
    assert alone == [sboms[1]]
