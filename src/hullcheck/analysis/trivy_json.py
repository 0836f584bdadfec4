"""Read Trivy's JSON report (``trivy image --format json``) into :class:`ImageFindings`.

Only the layout that Trivy 0.20 and later write is accepted: an object with
``SchemaVersion`` 2. Every field except a vulnerability's ``VulnerabilityID``, ``PkgName``
and ``Severity`` may be missing, because Trivy omits empty fields (``Results`` when nothing
was found, ``Vulnerabilities`` in a clean Result, ``Type`` in a custom Result) and older
releases wrote ``null`` in their place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.errors import HullcheckError

logger = logging.getLogger(__name__)

SUPPORTED_SCHEMA_VERSION = 2
"""The only ``SchemaVersion`` that Trivy has written since 0.20 (still 2 in Trivy 0.76)."""

PACKAGE_CLASSES = frozenset({"os-pkgs", "lang-pkgs"})
"""Result classes that Trivy writes only for packages it found and checked for vulnerabilities."""

_REGENERATE_HINT = "regenerate it with `trivy image --format json` (Trivy 0.20 or later)"

_T = TypeVar("_T")


class ReportFormatError(HullcheckError):
    """A document that is not a Trivy JSON report in a layout hullcheck can read."""


class ReportReadError(HullcheckError):
    """A Trivy report file that cannot be read at all."""


def load_trivy_report(path: Path) -> ImageFindings:
    """Read and parse the Trivy JSON report in ``path``.

    Raises ``ReportReadError`` when the file cannot be read and ``ReportFormatError`` when
    it is not JSON or not a Trivy report of a supported layout.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ReportReadError(
            f"cannot read Trivy report {path}: {reason}",
            hint="pass the path of a file written by `trivy image --format json`",
        ) from error

    return parse_trivy_json(raw, source=str(path))


def parse_trivy_json(data: str | bytes, *, source: str = "<input>") -> ImageFindings:
    """Decode Trivy's JSON text and parse it like :func:`parse_trivy_report`."""
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise ReportFormatError(
            f"invalid JSON in {source}: {error.msg} at line {error.lineno}, column {error.colno}",
            hint=f"check that the file is complete, or {_REGENERATE_HINT}",
        ) from error
    except UnicodeDecodeError as error:
        raise ReportFormatError(
            f"invalid JSON in {source}: not UTF-8 text ({error.reason})",
            hint=_REGENERATE_HINT,
        ) from error

    return parse_trivy_report(document, source=source)


def parse_trivy_report(document: object, *, source: str = "<input>") -> ImageFindings:
    """Convert a decoded Trivy JSON document into the findings of one image.

    ``source`` names the document (a file path) in error messages. Findings are unique per
    vulnerability ID across all Results: each lists every affected package, and when Trivy
    gives one ID different severities in different Results, the highest is kept.
    """
    reader = _Reader(source)
    root = reader.root(document)

    metadata = reader.optional(root, "Metadata", dict, "") or {}
    os_info = reader.optional(metadata, "OS", dict, "Metadata") or {}
    os_family = reader.optional(os_info, "Family", str, "Metadata.OS") or None
    trivy_block = reader.optional(root, "Trivy", dict, "") or {}

    results = reader.optional(root, "Results", list, "") or []
    collector = _FindingCollector()
    found_packages = False
    for index, result in enumerate(results):
        where = f"Results[{index}]"
        if not isinstance(result, dict):
            raise reader.error(f"{where} is {_type_name(result)}, expected an object")
        found_packages = reader.read_result(result, where, collector) or found_packages

    os_detected = os_family is not None and os_family.lower() != "none"
    repo_digests = reader.optional(metadata, "RepoDigests", list, "Metadata") or []
    return ImageFindings(
        artifact_name=reader.optional(root, "ArtifactName", str, "") or "",
        schema_version=SUPPORTED_SCHEMA_VERSION,
        os_family=os_family,
        os_name=reader.optional(os_info, "Name", str, "Metadata.OS") or None,
        os_eosl=reader.optional(os_info, "EOSL", bool, "Metadata.OS") or False,
        analysed=os_detected or found_packages,
        trivy_version=reader.optional(trivy_block, "Version", str, "Trivy") or None,
        image_id=reader.optional(metadata, "ImageID", str, "Metadata") or None,
        repo_digests=tuple(reader.strings(repo_digests, "Metadata.RepoDigests")),
        findings=collector.findings(),
    )


@dataclass
class _Accumulator:
    """Everything seen so far about one vulnerability ID."""

    severity: Severity
    severity_source: str | None
    packages: list[AffectedPackage] = field(default_factory=list)
    title: str | None = None
    vendor_severity: dict[str, int] = field(default_factory=dict)
    primary_url: str | None = None


class _FindingCollector:
    """Merge the per-package entries of all Results into one finding per vulnerability ID."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Accumulator] = {}

    def add(
        self,
        vulnerability_id: str,
        severity: Severity,
        package: AffectedPackage,
        *,
        severity_source: str | None,
        title: str | None,
        vendor_severity: dict[str, int],
        primary_url: str | None,
    ) -> None:
        entry = self._by_id.get(vulnerability_id)
        if entry is None:
            entry = _Accumulator(severity=severity, severity_source=severity_source)
            self._by_id[vulnerability_id] = entry
        elif severity.rank > entry.severity.rank:
            logger.debug(
                "%s has severity %s in one Result and %s in another; keeping %s",
                vulnerability_id,
                entry.severity,
                severity,
                severity,
            )
            entry.severity = severity
            entry.severity_source = severity_source

        # An identical entry adds nothing, so each package is listed once.
        if package not in entry.packages:
            entry.packages.append(package)
        entry.title = entry.title or title
        entry.primary_url = entry.primary_url or primary_url
        for vendor, level in vendor_severity.items():
            entry.vendor_severity.setdefault(vendor, level)

    def findings(self) -> tuple[Finding, ...]:
        """Return the findings, most severe first, then by vulnerability ID."""
        findings = [
            Finding(
                vulnerability_id=vulnerability_id,
                severity=entry.severity,
                packages=tuple(entry.packages),
                title=entry.title,
                severity_source=entry.severity_source,
                vendor_severity=entry.vendor_severity,
                primary_url=entry.primary_url,
            )
            for vulnerability_id, entry in self._by_id.items()
        ]
        findings.sort(key=lambda finding: (-finding.severity.rank, finding.vulnerability_id))
        return tuple(findings)


class _Reader:
    """Typed access to the decoded JSON, raising ``ReportFormatError`` with the field's path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, detail: str, *, hint: str | None = None) -> ReportFormatError:
        return ReportFormatError(
            f"invalid Trivy JSON in {self.source}: {detail}",
            hint=hint or f"check that the file is unmodified Trivy output, or {_REGENERATE_HINT}",
        )

    def root(self, document: object) -> dict[str, object]:
        """Check the top-level layout and ``SchemaVersion``, then return the report object."""
        unsupported = f"unsupported Trivy JSON in {self.source}"
        if isinstance(document, list):
            raise ReportFormatError(
                f"{unsupported}: a top-level array with no SchemaVersion "
                "(the layout of Trivy < 0.20)",
                hint=_REGENERATE_HINT,
            )
        if not isinstance(document, dict):
            raise ReportFormatError(
                f"{unsupported}: the document is {_type_name(document)}, expected an object",
                hint=_REGENERATE_HINT,
            )
        if "SchemaVersion" not in document:
            raise ReportFormatError(
                f"{unsupported}: no SchemaVersion (output of Trivy < 0.20?)",
                hint=_REGENERATE_HINT,
            )
        version = document["SchemaVersion"]
        if isinstance(version, bool) or version != SUPPORTED_SCHEMA_VERSION:
            raise ReportFormatError(
                f"{unsupported}: SchemaVersion {json.dumps(version)}, "
                f"but hullcheck reads only SchemaVersion {SUPPORTED_SCHEMA_VERSION}",
                hint="scan with a Trivy release that writes SchemaVersion 2, such as 0.76",
            )
        return document

    def optional(
        self, container: Mapping[str, object], key: str, kind: type[_T], where: str
    ) -> _T | None:
        """Return ``container[key]``, or None when it is absent or null."""
        value = container.get(key)
        if value is None:
            return None
        # bool is a subclass of int, so a JSON true must not pass as a number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            path = f"{where}.{key}" if where else key
            raise self.error(f"{path} is {_type_name(value)}, expected {_KIND_NAMES[kind]}")
        return value

    def required(self, container: Mapping[str, object], key: str, where: str) -> str:
        """Return a non-empty string field that a vulnerability cannot be counted without."""
        value = self.optional(container, key, str, where)
        if not value:
            state = "an empty" if value == "" else "no"
            raise self.error(
                f"{where} has {state} {key}",
                hint="every vulnerability needs VulnerabilityID, PkgName and Severity, "
                f"so {_REGENERATE_HINT}",
            )
        return value

    def strings(self, values: list[object], where: str) -> list[str]:
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{where}[{index}] is {_type_name(value)}, expected a string")
        return [str(value) for value in values]

    def read_result(
        self, result: dict[str, object], where: str, collector: _FindingCollector
    ) -> bool:
        """Add the vulnerabilities of one Result and return True when it shows found packages."""
        target = self.optional(result, "Target", str, where) or None
        result_class = self.optional(result, "Class", str, where)
        result_type = self.optional(result, "Type", str, where)
        vulnerabilities = self.optional(result, "Vulnerabilities", list, where) or []
        packages = self.optional(result, "Packages", list, where) or []

        for index, vulnerability in enumerate(vulnerabilities):
            item = f"{where}.Vulnerabilities[{index}]"
            if not isinstance(vulnerability, dict):
                raise self.error(f"{item} is {_type_name(vulnerability)}, expected an object")
            self._read_vulnerability(
                vulnerability, item, target, result_class, result_type, collector
            )

        return bool(vulnerabilities) or bool(packages) or result_class in PACKAGE_CLASSES

    def _read_vulnerability(
        self,
        vulnerability: dict[str, object],
        where: str,
        target: str | None,
        result_class: str | None,
        result_type: str | None,
        collector: _FindingCollector,
    ) -> None:
        vulnerability_id = self.required(vulnerability, "VulnerabilityID", where)
        package_name = self.required(vulnerability, "PkgName", where)
        severity_text = self.required(vulnerability, "Severity", where)
        severity = Severity.parse(severity_text)
        if severity is Severity.UNKNOWN and severity_text.strip().upper() != "UNKNOWN":
            logger.debug("%s: unknown severity %r counted as UNKNOWN", where, severity_text)

        package = AffectedPackage(
            name=package_name,
            installed_version=self.optional(vulnerability, "InstalledVersion", str, where) or None,
            fixed_version=self.optional(vulnerability, "FixedVersion", str, where) or None,
            status=self.optional(vulnerability, "Status", str, where) or None,
            target=target,
            package_class=result_class or None,
            package_type=result_type or None,
            path=self.optional(vulnerability, "PkgPath", str, where) or None,
        )
        collector.add(
            vulnerability_id,
            severity,
            package,
            severity_source=self.optional(vulnerability, "SeveritySource", str, where) or None,
            title=self.optional(vulnerability, "Title", str, where) or None,
            vendor_severity=self._vendor_severity(vulnerability, where),
            primary_url=self.optional(vulnerability, "PrimaryURL", str, where) or None,
        )

    def _vendor_severity(self, vulnerability: dict[str, object], where: str) -> dict[str, int]:
        vendors = self.optional(vulnerability, "VendorSeverity", dict, where) or {}
        levels: dict[str, int] = {}
        for vendor, level in vendors.items():
            if isinstance(level, bool) or not isinstance(level, int):
                raise self.error(
                    f"{where}.VendorSeverity.{vendor} is {_type_name(level)}, expected an integer"
                )
            levels[str(vendor)] = level
        return levels


_KIND_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    bool: "true or false",
}


def _type_name(value: object) -> str:
    """Describe a decoded JSON value in JSON's own terms for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
