"""Match many stored SBOMs with one Trivy process per operating system.

Images of one estate share most of their packages: every image on a Debian base lists the
same few hundred dpkg packages, and apps of one language share many libraries. Matching
each SBOM on its own repeats that work once per image. Here the SBOMs of the images on one
OS release are merged into one CycloneDX document that lists each distinct package once.
Trivy matches it, and the findings are copied back to every image that lists the package,
with that image's own file path. Each image then gets a Trivy JSON report equal to the one
``trivy sbom`` on its own SBOM gives, which the usual parser reads.

Only SBOMs shaped as Trivy writes them for an image of installed packages are merged: the
image, one operating-system component and libraries. An SBOM with any other component
(an application found from a lock file, a Go binary) is matched on its own, because its
findings are reported per application and this module does not rebuild those.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

PROPERTY_PREFIX = "aquasecurity:trivy:"
FILE_PATH = PROPERTY_PREFIX + "FilePath"
PATH_PROPERTIES = frozenset(
    {FILE_PATH, PROPERTY_PREFIX + "LayerDiffID", PROPERTY_PREFIX + "LayerDigest"}
)
"""Properties that tell where a package sits in one image, not what the package is."""

OS_CLASS = "os-pkgs"


class MergeError(ValueError):
    """The merged report cannot be split back into per-image reports."""


@dataclass(frozen=True)
class StoredSbom:
    """One image's CycloneDX SBOM as Trivy wrote it, with the facts the merge needs."""

    path: Path
    document: JsonObject
    os_key: tuple[str, str]
    """Name and version of the operating-system component, such as ("debian", "12.7")."""

    @property
    def root(self) -> JsonObject:
        component: JsonObject = self.document["metadata"]["component"]
        return component

    def root_properties(self, name: str) -> list[str]:
        return [
            str(item.get("value"))
            for item in self.root.get("properties") or []
            if item.get("name") == PROPERTY_PREFIX + name
        ]


def load_mergeable(path: Path) -> StoredSbom | None:
    """Read an SBOM and return it when it can be merged, else None (it is matched alone)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        return None
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("component"), dict):
        return None
    components = document.get("components") or []
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return None
    systems = [c for c in components if c.get("type") == "operating-system"]
    others = [c for c in components if c.get("type") not in ("operating-system", "library")]
    if len(systems) != 1 or others:
        return None
    if any("bom-ref" not in component for component in components):
        return None
    os_component = systems[0]
    return StoredSbom(
        path=path,
        document=document,
        os_key=(str(os_component.get("name")), str(os_component.get("version"))),
    )


def group_by_os(sboms: Iterable[StoredSbom]) -> list[list[StoredSbom]]:
    """Group SBOMs by operating-system release, in the order they come."""
    groups: dict[tuple[str, str], list[StoredSbom]] = {}
    for sbom in sboms:
        groups.setdefault(sbom.os_key, []).append(sbom)
    return list(groups.values())


def _identity(component: JsonObject) -> str:
    """Return what makes two library components the same package, as canonical JSON.

    Everything but the bom-ref and the properties that place the package in one image.
    """
    identity = {key: value for key, value in component.items() if key != "bom-ref"}
    identity["properties"] = [
        item
        for item in component.get("properties") or []
        if item.get("name") not in PATH_PROPERTIES
    ]
    return json.dumps(identity, sort_keys=True)


def _file_path(component: JsonObject) -> str | None:
    for item in component.get("properties") or []:
        if item.get("name") == FILE_PATH:
            return str(item.get("value"))
    return None


@dataclass
class MergedSbom:
    """One CycloneDX document holding every distinct package of a group of SBOMs."""

    document: JsonObject
    members: list[StoredSbom]
    occurrences: dict[tuple[str, str | None], list[tuple[int, str | None]]] = field(
        default_factory=dict
    )
    """For each package of the merged document, by its purl and file path there: the
    index of each member listing it and the member's own file path of the package."""


def merge(members: Sequence[StoredSbom]) -> MergedSbom:
    """Merge SBOMs of one OS release into one document; see the module docstring."""
    first = members[0].document
    os_component: JsonObject | None = None
    components: list[JsonObject] = []
    by_identity: dict[str, JsonObject] = {}
    occurrences: dict[tuple[str, str | None], list[tuple[int, str | None]]] = {}
    edges: dict[str, set[str]] = {}
    root_children: set[str] = set()

    for index, member in enumerate(members):
        references: dict[str, str] = {}  # the member's bom-refs to the merged ones
        for component in member.document.get("components") or []:
            if component.get("type") == "operating-system":
                if os_component is None:
                    os_component = {**component, "bom-ref": "operating-system"}
                references[component["bom-ref"]] = "operating-system"
                continue
            identity = _identity(component)
            merged = by_identity.get(identity)
            if merged is None:
                merged = {**component, "bom-ref": f"package-{len(components) + 1}"}
                by_identity[identity] = merged
                components.append(merged)
                key = (str(component.get("purl") or ""), _file_path(component))
                if key in occurrences:
                    # Two distinct packages with one purl and path: their findings could
                    # not be told apart in the merged report.
                    raise MergeError(f"two packages share the purl and path {key}")
                occurrences[key] = []
            references[component["bom-ref"]] = merged["bom-ref"]
            occurrences[(str(merged.get("purl") or ""), _file_path(merged))].append(
                (index, _file_path(component))
            )

        root_reference = member.root.get("bom-ref")
        for dependency in member.document.get("dependencies") or []:
            parent = dependency.get("ref")
            children = {
                references[child]
                for child in dependency.get("dependsOn") or []
                if child in references
            }
            if parent == root_reference:
                root_children |= children
            elif parent in references:
                edges.setdefault(references[parent], set()).update(children)

    if os_component is None:
        raise MergeError("no operating-system component in the group")
    root = {
        "bom-ref": "merged-image",
        "type": "container",
        "name": "hullcheck-merged-sbom",
    }
    document: JsonObject = {
        key: value
        for key, value in first.items()
        if key not in ("components", "dependencies", "vulnerabilities")
    }
    document["metadata"] = {**first["metadata"], "component": root}
    document["components"] = [os_component, *components]
    document["dependencies"] = [
        {"ref": "merged-image", "dependsOn": sorted(root_children)},
        *({"ref": ref, "dependsOn": sorted(children)} for ref, children in sorted(edges.items())),
    ]
    return MergedSbom(document=document, members=list(members), occurrences=occurrences)


def split_report(report: JsonObject, merged: MergedSbom, artifact: str) -> dict[Path, JsonObject]:
    """Turn Trivy's JSON report on the merged SBOM into one report per member SBOM.

    ``artifact`` is the name Trivy was given for the merged SBOM; it starts the target of
    the OS result, which each member's report names after its own SBOM path instead.
    Raises MergeError for a finding whose package is not in the merged document.
    """
    metadata = report.get("Metadata") or {}
    reports: list[JsonObject] = []
    for member in merged.members:
        reports.append(
            {
                "SchemaVersion": report.get("SchemaVersion"),
                "Trivy": report.get("Trivy"),
                "ArtifactName": str(member.path),
                "ArtifactType": report.get("ArtifactType"),
                "Metadata": {
                    "OS": metadata.get("OS"),
                    "ImageID": next(iter(member.root_properties("ImageID")), None),
                    "DiffIDs": member.root_properties("DiffID"),
                    "RepoTags": member.root_properties("RepoTag"),
                    "RepoDigests": member.root_properties("RepoDigest"),
                },
                "Results": [],
            }
        )

    for result in report.get("Results") or []:
        target = str(result.get("Target") or "")
        per_member: list[list[JsonObject]] = [[] for _ in merged.members]
        for vulnerability in result.get("Vulnerabilities") or []:
            purl = str((vulnerability.get("PkgIdentifier") or {}).get("PURL") or "")
            path = vulnerability.get("PkgPath")
            places = merged.occurrences.get((purl, path))
            if places is None:
                raise MergeError(f"finding for {purl} at {path} matches no merged package")
            # Trivy lists one package found at several paths in path order.
            for index, member_path in sorted(places, key=lambda place: (place[0], place[1] or "")):
                copy = dict(vulnerability)
                if member_path is not None:
                    copy["PkgPath"] = member_path
                per_member[index].append(copy)

        for index, member in enumerate(merged.members):
            member_target = target
            if result.get("Class") == OS_CLASS and target.startswith(artifact):
                member_target = str(member.path) + target[len(artifact) :]
            member_result = {
                key: value for key, value in result.items() if key != "Vulnerabilities"
            }
            member_result["Target"] = member_target
            if per_member[index]:
                member_result["Vulnerabilities"] = per_member[index]
            if per_member[index] or _lists_class(member, result):
                reports[index]["Results"].append(member_result)

    return {member.path: reports[index] for index, member in enumerate(merged.members)}


def _lists_class(member: StoredSbom, result: Mapping[str, Any]) -> bool:
    """Tell whether the member has packages of the result's class, so Trivy lists the result."""
    if result.get("Class") == OS_CLASS:
        return True
    package_type = result.get("Type")
    return any(
        item.get("name") == PROPERTY_PREFIX + "PkgType" and item.get("value") == package_type
        for component in member.document.get("components") or []
        for item in component.get("properties") or []
    )
