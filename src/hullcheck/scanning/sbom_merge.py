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

The SBOMs are read one at a time and folded into their group, so memory contains one SBOM
document plus the distinct packages, not every document at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

PROPERTY_PREFIX = "aquasecurity:trivy:"
FILE_PATH = PROPERTY_PREFIX + "FilePath"
PACKAGE_TYPE = PROPERTY_PREFIX + "PkgType"
PATH_PROPERTIES = frozenset(
    {FILE_PATH, PROPERTY_PREFIX + "LayerDiffID", PROPERTY_PREFIX + "LayerDigest"}
)
"""Properties that tell where a package sits in one image, not what the package is."""

OS_CLASS = "os-pkgs"
MERGED_ROOT = "merged-image"
MERGED_OS = "operating-system"

PackageKey = tuple[str, str | None]
"""A package of the merged document by its purl and its file path there."""


class MergeError(ValueError):
    """The SBOMs cannot be merged, or the merged report cannot be split back."""


@dataclass(frozen=True)
class Member:
    """The facts of a member SBOM that its per-image report needs besides the findings."""

    path: Path
    image_id: str | None
    diff_ids: list[str]
    repo_tags: list[str]
    repo_digests: list[str]
    package_types: frozenset[str]


@dataclass
class MergedGroup:
    """The SBOMs of one OS release, folded into one CycloneDX document as they are read."""

    os_key: tuple[str, str]
    """Name and version of the operating-system component, such as ("debian", "12.7")."""
    members: list[Member] = field(default_factory=list)
    error: str | None = None
    """The reason this group cannot be matched merged, so that its members are matched alone."""
    occurrences: dict[PackageKey, list[tuple[int, str | None]]] = field(default_factory=dict)
    """For each merged package: the index of each member listing it, with its own path."""
    _header: JsonObject = field(default_factory=dict)
    _os_component: JsonObject | None = None
    _components: list[str] = field(default_factory=list)
    """Each merged package's component as JSON text."""
    _by_identity: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Each merged package's bom-ref and file path, by the package's identity."""
    _purls: dict[str, str] = field(default_factory=dict)
    _edges: dict[str, set[str]] = field(default_factory=dict)
    _root_children: set[str] = field(default_factory=set)

    def add(self, path: Path, document: JsonObject) -> None:
        """Fold one SBOM into the group; a conflict sets ``error`` and stops the merging."""
        root: JsonObject = document["metadata"]["component"]
        index = len(self.members)
        self.members.append(_member(path, root, document["components"]))
        if self.error is not None:
            return
        try:
            self._fold(index, root, document)
        except MergeError as error:
            self.error = str(error)

    def _fold(self, index: int, root: JsonObject, document: JsonObject) -> None:
        if not self._header:
            self._header = {
                key: value
                for key, value in document.items()
                if key not in ("components", "dependencies", "vulnerabilities")
            }
        references: dict[str, str] = {}  # the member's bom-refs to the merged ones
        for component in document["components"]:
            if component.get("type") == "operating-system":
                if self._os_component is None:
                    self._os_component = {**component, "bom-ref": MERGED_OS}
                references[component["bom-ref"]] = MERGED_OS
                continue
            own_path = _file_path(component)
            identity = _identity(component)
            merged = self._by_identity.get(identity)
            if merged is None:
                merged = (f"package-{len(self._components) + 1}", own_path)
                key = (str(component.get("purl") or ""), own_path)
                if key in self.occurrences:
                    # Trivy names a finding's package by purl and path, so two distinct
                    # packages under one key could not be distinguished in the merged report.
                    raise MergeError(f"two different packages share the purl and path {key}")
                self._by_identity[identity] = merged
                # Kept as text: the decoded component would keep its whole SBOM's objects
                # scattered in memory after the SBOM itself is freed.
                self._components.append(json.dumps({**component, "bom-ref": merged[0]}))
                self.occurrences[key] = []
                self._purls[merged[0]] = key[0]
            references[component["bom-ref"]] = merged[0]
            self.occurrences[(self._purls[merged[0]], merged[1])].append((index, own_path))

        root_reference = root.get("bom-ref")
        for dependency in document.get("dependencies") or []:
            parent = dependency.get("ref")
            children = {
                references[child]
                for child in dependency.get("dependsOn") or []
                if child in references
            }
            if parent == root_reference:
                self._root_children |= children
            elif parent in references:
                self._edges.setdefault(references[parent], set()).update(children)

    def document_text(self) -> str:
        """Return the merged CycloneDX document as JSON text."""
        if self._os_component is None:
            raise MergeError("no operating-system component in the group")
        document = dict(self._header)
        document["metadata"] = {
            **self._header.get("metadata", {}),
            "component": {"bom-ref": MERGED_ROOT, "type": "container", "name": "merged-sbom"},
        }
        document["dependencies"] = [
            {"ref": MERGED_ROOT, "dependsOn": sorted(self._root_children)},
            *(
                {"ref": reference, "dependsOn": sorted(children)}
                for reference, children in sorted(self._edges.items())
            ),
        ]
        # The components are added as the JSON text they are kept as, before the closing brace.
        components = ",".join([json.dumps(self._os_component), *self._components])
        return json.dumps(document)[:-1] + f', "components": [{components}]}}'

    def release_document(self) -> None:
        """Drop what only ``document`` needs, once the merged SBOM is written out."""
        self._header = {}
        self._components = []
        self._by_identity = {}
        self._purls = {}
        self._edges = {}
        self._root_children = set()


def group_sboms(paths: Iterable[Path]) -> tuple[list[MergedGroup], list[Path]]:
    """Read the SBOMs one at a time into groups by OS release.

    Returns the groups and the SBOMs to match alone: those that cannot be merged and
    those without another SBOM of their OS release.
    """
    groups: dict[tuple[str, str], MergedGroup] = {}
    alone: list[Path] = []
    for path in paths:
        document = _read_mergeable(path)
        if document is None:
            alone.append(path)
            continue
        os_key = _os_key(document)
        groups.setdefault(os_key, MergedGroup(os_key)).add(path, document)
    merged = []
    for group in groups.values():
        if len(group.members) > 1:
            merged.append(group)
        else:
            alone.extend(member.path for member in group.members)
    return merged, alone


def split_report(
    report: JsonObject, group: MergedGroup, artifact: str
) -> Iterator[tuple[Path, JsonObject]]:
    """Turn Trivy's JSON report on the merged SBOM into one report per member SBOM.

    The reports come one at a time, so a caller that parses each keeps one in memory.

    ``artifact`` is the name Trivy was given for the merged SBOM. It starts the target of
    the OS result, which each member's report names after its own SBOM path instead.
    Raises MergeError for a finding whose package is not in the merged document, and for
    a report of another shape, so the members are matched alone and their own reports are
    checked by the usual parser.
    """
    # Which findings each member gets, as positions in the merged report, found in one pass.
    metadata = report.get("Metadata") or {}
    results = report.get("Results") or []
    if not isinstance(metadata, dict) or not isinstance(results, list):
        raise MergeError("the merged report has no Metadata object or no Results list")
    picks: list[list[list[tuple[int, str | None]]]] = [[[] for _ in results] for _ in group.members]
    for result_index, result in enumerate(results):
        vulnerabilities = result.get("Vulnerabilities") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(vulnerabilities or [], list):
            raise MergeError(f"Results[{result_index}] of the merged report is not a result")
        for position, vulnerability in enumerate(vulnerabilities or []):
            if not isinstance(vulnerability, dict):
                raise MergeError(f"Results[{result_index}] lists a finding that is not an object")
            purl = str((vulnerability.get("PkgIdentifier") or {}).get("PURL") or "")
            places = group.occurrences.get((purl, vulnerability.get("PkgPath")))
            if places is None:
                raise MergeError(
                    f"a finding for {purl} at {vulnerability.get('PkgPath')} "
                    "matches no merged package"
                )
            # Trivy lists one package found at several paths in path order.
            for index, own_path in sorted(places, key=lambda place: (place[0], place[1] or "")):
                picks[index][result_index].append((position, own_path))

    for index, member in enumerate(group.members):
        member_results: list[JsonObject] = []
        for result_index, result in enumerate(results):
            is_os = result.get("Class") == OS_CLASS
            chosen = picks[index][result_index]
            if not chosen and not is_os and result.get("Type") not in member.package_types:
                continue  # Trivy lists no result for a package type the image lacks.
            member_result = {
                key: value for key, value in result.items() if key != "Vulnerabilities"
            }
            target = str(result.get("Target") or "")
            if is_os and target.startswith(artifact):
                member_result["Target"] = str(member.path) + target[len(artifact) :]
            if chosen:
                vulnerabilities = result["Vulnerabilities"]
                member_result["Vulnerabilities"] = [
                    _at_path(vulnerabilities[position], own_path) for position, own_path in chosen
                ]
            member_results.append(member_result)
        yield (
            member.path,
            {
                "SchemaVersion": report.get("SchemaVersion"),
                "Trivy": report.get("Trivy"),
                "ArtifactName": str(member.path),
                "ArtifactType": report.get("ArtifactType"),
                "Metadata": {
                    "OS": metadata.get("OS"),
                    "ImageID": member.image_id,
                    "DiffIDs": member.diff_ids,
                    "RepoTags": member.repo_tags,
                    "RepoDigests": member.repo_digests,
                },
                "Results": member_results,
            },
        )


def _at_path(vulnerability: JsonObject, path: str | None) -> JsonObject:
    if path is None:
        return vulnerability
    return {**vulnerability, "PkgPath": path}


def _read_mergeable(path: Path) -> JsonObject | None:
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
    components = document.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return None
    systems = 0
    for component in components:
        kind = component.get("type")
        if kind not in ("operating-system", "library") or "bom-ref" not in component:
            return None
        systems += kind == "operating-system"
    return document if systems == 1 else None


def _os_key(document: JsonObject) -> tuple[str, str]:
    for component in document["components"]:
        if component.get("type") == "operating-system":
            return str(component.get("name")), str(component.get("version"))
    raise MergeError("no operating-system component")  # _read_mergeable checked there is one


def _member(path: Path, root: JsonObject, components: list[JsonObject]) -> Member:
    properties: dict[str, list[str]] = {}
    for item in root.get("properties") or []:
        properties.setdefault(str(item.get("name")), []).append(str(item.get("value")))
    package_types = {
        str(item.get("value"))
        for component in components
        for item in component.get("properties") or []
        if item.get("name") == PACKAGE_TYPE
    }
    image_ids = properties.get(PROPERTY_PREFIX + "ImageID", [])
    return Member(
        path=path,
        image_id=image_ids[0] if image_ids else None,
        diff_ids=properties.get(PROPERTY_PREFIX + "DiffID", []),
        repo_tags=properties.get(PROPERTY_PREFIX + "RepoTag", []),
        repo_digests=properties.get(PROPERTY_PREFIX + "RepoDigest", []),
        package_types=frozenset(package_types),
    )


_IDENTITY_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)


def _identity(component: JsonObject) -> str:
    """Return what makes two library components the same package, as canonical JSON.

    That is everything but the bom-ref and the properties that place it in one image.
    """
    identity_properties = [
        item
        for item in component.get("properties") or []
        if item.get("name") not in PATH_PROPERTIES
    ]
    return _IDENTITY_ENCODER.encode(
        {**component, "bom-ref": None, "properties": identity_properties}
    )


def _file_path(component: JsonObject) -> str | None:
    for item in component.get("properties") or []:
        if item.get("name") == FILE_PATH:
            return str(item.get("value"))
    return None
