"""Build a Trivy vulnerability DB offline from our own advisory data.

Trivy 0.76 reads ``CACHE/db/trivy.db``, a bbolt file of JSON values, and
``CACHE/db/metadata.json``. The layout written here is the one Trivy's DB schema version 2
uses (aquasecurity/trivy-db):

- ``"debian 12"``, ``"alpine 3.21"``, ... -> source package (Debian ``Source:``, apk
  origin) -> vulnerability ID -> ``{"FixedVersion", "Status", "Severity"}``;
- ``"npm::GitHub Security Advisory npm"``, ``"pip::..."`` -> package -> vulnerability ID ->
  ``{"PatchedVersions", "VulnerableVersions"}``. Trivy matches language buckets by the
  prefix up to ``::`` and normalises pip names (lower case, ``-`` for ``_``);
- ``"vulnerability"`` -> vulnerability ID -> title, severities, CVSS, references, dates;
- ``"data-source"`` -> each advisory bucket's name -> ``{"ID", "Name", "URL"}``; the ID
  picks which ``VendorSeverity`` entry Trivy uses.

The facts used by the lab's fixture images live in ``fixtures/advisories.yaml`` next to
this module, together with the images' packages and the findings Trivy must report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Any

import yaml

from hullcheck.analysis.models import Severity
from hullcheck.lab.bbolt import BucketTree, write_bbolt

SCHEMA_VERSION = 2
"""The DB schema version that Trivy 0.76 accepts; any other version is fatal."""

DEFAULT_ADVISORIES_PATH = Path(__file__).with_name("fixtures") / "advisories.yaml"

DEFAULT_NEXT_UPDATE_DELAY = timedelta(days=365)
"""How far after ``updated_at`` the default NextUpdate lies.

Without ``--skip-db-update``, Trivy downloads a new DB only once NextUpdate has passed, so
a year keeps a lab DB in use without any network access.
"""

VULNERABILITY_BUCKET = "vulnerability"
DATA_SOURCE_BUCKET = "data-source"


class AdvisoryStatus(IntEnum):
    """Trivy DB status codes; Trivy reports the lower-case name (``will_not_fix``)."""

    UNKNOWN = 0
    NOT_AFFECTED = 1
    AFFECTED = 2
    FIXED = 3
    UNDER_INVESTIGATION = 4
    WILL_NOT_FIX = 5
    FIX_DEFERRED = 6
    END_OF_LIFE = 7

    @property
    def label(self) -> str:
        """The status as Trivy's JSON report spells it."""
        return self.name.lower()


class AdvisoryDataError(ValueError):
    """Advisory data is invalid: a wrong type, an unknown name or a missing reference."""


# The data model


@dataclass(frozen=True)
class DataSource:
    """The origin of an advisory bucket's data; ``id`` selects the vendor severity."""

    id: str
    name: str
    url: str


@dataclass(frozen=True)
class Cvss:
    v3_vector: str
    v3_score: float


@dataclass(frozen=True)
class Vulnerability:
    """An entry of the ``vulnerability`` bucket: what Trivy shows beside each finding."""

    id: str
    title: str
    description: str
    severity: Severity
    vendor_severity: Mapping[str, Severity] = field(default_factory=dict)
    cvss: Mapping[str, Cvss] = field(default_factory=dict)
    cwe_ids: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    published_date: datetime | None = None
    last_modified_date: datetime | None = None


@dataclass(frozen=True)
class OsAdvisory:
    """An advisory in an OS bucket such as ``debian 12``.

    A ``fixed_version`` makes Trivy report the status ``fixed`` and skip packages at or
    above that version. Without it, Trivy reports every installed version with
    ``status`` (``affected`` when that is None too). A ``severity`` here overrides the
    ``vulnerability`` entry, as Debian's own ratings do.
    """

    fixed_version: str | None = None
    status: AdvisoryStatus | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class LanguageAdvisory:
    """An advisory in a language bucket: version constraints such as ``< 4.17.21``."""

    vulnerable_versions: tuple[str, ...] = ()
    patched_versions: tuple[str, ...] = ()


Advisory = OsAdvisory | LanguageAdvisory


@dataclass(frozen=True)
class FixturePackage:
    """A package installed in a fixture image.

    ``manager`` is ``dpkg``, ``apk``, ``npm`` or ``pip``. ``source`` is the Debian source
    package or the apk origin, the name that OS buckets use.
    """

    manager: str
    name: str
    version: str
    source: str | None = None
    maintainer: str | None = None


@dataclass(frozen=True)
class ExpectedFinding:
    """One vulnerability that Trivy must report for one package of a fixture image."""

    vulnerability_id: str
    package: str
    installed_version: str
    severity: Severity
    status: AdvisoryStatus
    fixed_version: str | None = None


@dataclass(frozen=True)
class SeverityCount:
    """Unique vulnerability IDs of one severity, and how many of them have a fix."""

    total: int
    fixable: int


@dataclass(frozen=True)
class FixtureImage:
    """A lab image: its OS, every package (the base image's included) and Trivy's findings.

    ``expected_counts`` lists only the severities that occur.
    """

    name: str
    base: str | None
    os_family: str
    os_version: str
    os_codename: str | None
    packages: tuple[FixturePackage, ...]
    node_modules: str | None
    site_packages: str | None
    expected_findings: tuple[ExpectedFinding, ...]
    expected_counts: Mapping[Severity, SeverityCount]


@dataclass
class AdvisorySet:
    """Everything that goes into a Trivy DB, plus the fixture images it was written for.

    ``advisories`` maps bucket -> package -> vulnerability ID -> advisory. Build one with
    :func:`load_advisories` and extend it with the ``add_*`` methods.
    """

    data_sources: dict[str, DataSource] = field(default_factory=dict)
    vulnerabilities: dict[str, Vulnerability] = field(default_factory=dict)
    advisories: dict[str, dict[str, dict[str, Advisory]]] = field(default_factory=dict)
    images: dict[str, FixtureImage] = field(default_factory=dict)

    def add_data_source(self, bucket: str, source: DataSource) -> None:
        self.data_sources[bucket] = source

    def add_vulnerability(self, vulnerability: Vulnerability) -> None:
        self.vulnerabilities[vulnerability.id] = vulnerability

    def add_advisory(
        self, bucket: str, package: str, vulnerability_id: str, advisory: Advisory
    ) -> None:
        """Add or replace one advisory.

        Raises:
            AdvisoryDataError: the advisory kind does not fit the bucket (language buckets
                contain ``::``, OS buckets do not).
        """
        is_language_bucket = "::" in bucket
        if is_language_bucket != isinstance(advisory, LanguageAdvisory):
            expected = "LanguageAdvisory" if is_language_bucket else "OsAdvisory"
            raise AdvisoryDataError(
                f"bucket {bucket!r} takes {expected} values, not {type(advisory).__name__}; "
                "language buckets are named 'ecosystem::source', OS buckets 'family version'"
            )
        self.advisories.setdefault(bucket, {}).setdefault(package, {})[vulnerability_id] = advisory

    def add_generated_advisories(
        self,
        bucket: str,
        packages: Sequence[str],
        count: int,
        advisory: Advisory,
        *,
        severity: Severity | None = None,
        id_prefix: str = "CVE-2099-",
    ) -> list[str]:
        """Add ``count`` synthetic advisories spread round-robin over ``packages``.

        Each gets a new vulnerability ID (``id_prefix`` plus a number above any ID already
        using that prefix) with a ``vulnerability`` entry, and a copy of ``advisory`` in
        ``bucket``. Whether Trivy reports them depends on ``advisory``: a fixed version
        above the installed one matches, one below it does not. Severities cycle LOW,
        MEDIUM, HIGH, CRITICAL unless ``severity`` is given. Returns the new IDs in order.

        Raises:
            AdvisoryDataError: ``bucket`` has no data source, ``packages`` is empty or
                ``count`` is negative.
        """
        if bucket not in self.data_sources:
            raise AdvisoryDataError(
                f"bucket {bucket!r} has no data source; call add_data_source first so Trivy "
                "knows which vendor severity applies"
            )
        if not packages:
            raise AdvisoryDataError("packages is empty; give at least one package name")
        if count < 0:
            raise AdvisoryDataError(f"count is {count}; expected 0 or more")

        source_id = self.data_sources[bucket].id
        cycle = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
        first_number = self._next_id_number(id_prefix)
        new_ids: list[str] = []
        for index in range(count):
            vulnerability_id = f"{id_prefix}{first_number + index:04d}"
            package = packages[index % len(packages)]
            rating = severity if severity is not None else cycle[index % len(cycle)]
            self.add_vulnerability(
                Vulnerability(
                    id=vulnerability_id,
                    title=f"{package}: synthetic advisory {first_number + index}",
                    description=f"Generated test advisory for {package} in {bucket}.",
                    severity=rating,
                    vendor_severity={"nvd": rating, source_id: rating},
                )
            )
            self.add_advisory(bucket, package, vulnerability_id, advisory)
            new_ids.append(vulnerability_id)
        return new_ids

    def _next_id_number(self, id_prefix: str) -> int:
        numbers = [
            int(suffix)
            for vulnerability_id in self.vulnerabilities
            if vulnerability_id.startswith(id_prefix)
            and (suffix := vulnerability_id[len(id_prefix) :]).isdigit()
        ]
        return max(numbers, default=0) + 1

    def advisory_count(self) -> int:
        return sum(len(ids) for packages in self.advisories.values() for ids in packages.values())

    def validate(self) -> None:
        """Check that every advisory bucket has a data source and every ID an entry.

        Trivy 0.76 falls back to NVD severities for a bucket without a data source, and
        reports a matched ID that has no ``vulnerability`` entry as UNKNOWN with no title.

        Raises:
            AdvisoryDataError: names the first bucket or ID that is missing.
        """
        for bucket, packages in self.advisories.items():
            if bucket not in self.data_sources:
                raise AdvisoryDataError(
                    f"advisory bucket {bucket!r} has no data source; add one under data_sources"
                )
            for package, advisories in packages.items():
                for vulnerability_id in advisories:
                    if vulnerability_id not in self.vulnerabilities:
                        raise AdvisoryDataError(
                            f"advisory {bucket} -> {package} -> {vulnerability_id} has no "
                            "vulnerability entry; add it under vulnerabilities"
                        )

    def to_buckets(self) -> dict[bytes, BucketTree]:
        """Return the bbolt buckets of ``trivy.db``, with every value encoded as JSON."""
        buckets: dict[bytes, BucketTree] = {}
        for bucket, packages in self.advisories.items():
            buckets[bucket.encode()] = {
                package.encode(): {
                    vulnerability_id.encode(): _json_bytes(_advisory_json(advisory))
                    for vulnerability_id, advisory in advisories.items()
                }
                for package, advisories in packages.items()
            }
        buckets[VULNERABILITY_BUCKET.encode()] = {
            vulnerability_id.encode(): _json_bytes(_vulnerability_json(vulnerability))
            for vulnerability_id, vulnerability in self.vulnerabilities.items()
        }
        buckets[DATA_SOURCE_BUCKET.encode()] = {
            bucket.encode(): _json_bytes({"ID": source.id, "Name": source.name, "URL": source.url})
            for bucket, source in self.data_sources.items()
        }
        return buckets


# Writing the DB


def build_trivy_db(
    cache_dir: Path,
    advisories: AdvisorySet | None = None,
    *,
    updated_at: datetime | None = None,
    next_update: datetime | None = None,
) -> Path:
    """Write ``CACHE/db/trivy.db`` and ``CACHE/db/metadata.json``; return the trivy.db path.

    ``advisories`` defaults to the lab fixtures (:data:`DEFAULT_ADVISORIES_PATH`).
    ``updated_at`` defaults to now, ``next_update`` to ``updated_at`` plus
    :data:`DEFAULT_NEXT_UPDATE_DELAY`. Both must carry a time zone.

    Raises:
        AdvisoryDataError: the advisories fail :meth:`AdvisorySet.validate`.
        ValueError: a time has no time zone.
    """
    if advisories is None:
        advisories = load_advisories()
    advisories.validate()
    if updated_at is None:
        updated_at = datetime.now(UTC).replace(microsecond=0)
    if next_update is None:
        next_update = updated_at + DEFAULT_NEXT_UPDATE_DELAY

    db_dir = cache_dir / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / "trivy.db"
    write_bbolt(db_path, advisories.to_buckets())
    write_trivy_metadata(db_dir, updated_at=updated_at, next_update=next_update)
    return db_path


def write_trivy_metadata(
    db_dir: Path,
    *,
    updated_at: datetime,
    next_update: datetime,
    downloaded_at: datetime | None = None,
    version: int = SCHEMA_VERSION,
) -> Path:
    """Write ``metadata.json`` into ``db_dir``; return its path.

    ``downloaded_at`` defaults to ``updated_at``. A ``version`` other than 2 makes Trivy
    0.76 reject the DB, which tests use on purpose.

    Raises:
        ValueError: a time has no time zone.
    """
    metadata = {
        "Version": version,
        "NextUpdate": format_rfc3339(next_update),
        "UpdatedAt": format_rfc3339(updated_at),
        "DownloadedAt": format_rfc3339(downloaded_at or updated_at),
    }
    path = db_dir / "metadata.json"
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def format_rfc3339(moment: datetime) -> str:
    """Format an aware datetime in UTC as RFC 3339 (``2024-01-26T09:15:07Z``).

    Raises:
        ValueError: ``moment`` has no time zone, so its instant is unknown.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"datetime {moment.isoformat()} has no time zone; pass an aware datetime "
            "such as datetime(..., tzinfo=UTC)"
        )
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _advisory_json(advisory: Advisory) -> dict[str, Any]:
    if isinstance(advisory, LanguageAdvisory):
        return {
            "PatchedVersions": list(advisory.patched_versions),
            "VulnerableVersions": list(advisory.vulnerable_versions),
        }
    encoded: dict[str, Any] = {}
    if advisory.fixed_version is not None:
        encoded["FixedVersion"] = advisory.fixed_version
    if advisory.status is not None:
        encoded["Status"] = int(advisory.status)
    if advisory.severity is not None:
        encoded["Severity"] = advisory.severity.rank
    return encoded


def _vulnerability_json(vulnerability: Vulnerability) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "Title": vulnerability.title,
        "Description": vulnerability.description,
        "Severity": vulnerability.severity.value,
    }
    if vulnerability.cwe_ids:
        encoded["CweIDs"] = list(vulnerability.cwe_ids)
    if vulnerability.vendor_severity:
        encoded["VendorSeverity"] = {
            source: severity.rank for source, severity in vulnerability.vendor_severity.items()
        }
    if vulnerability.cvss:
        encoded["CVSS"] = {
            source: {"V3Vector": cvss.v3_vector, "V3Score": cvss.v3_score}
            for source, cvss in vulnerability.cvss.items()
        }
    if vulnerability.references:
        encoded["References"] = list(vulnerability.references)
    if vulnerability.published_date is not None:
        encoded["PublishedDate"] = format_rfc3339(vulnerability.published_date)
    if vulnerability.last_modified_date is not None:
        encoded["LastModifiedDate"] = format_rfc3339(vulnerability.last_modified_date)
    return encoded


# Loading our YAML


def load_advisories(path: Path | None = None) -> AdvisorySet:
    """Load advisories, data sources and fixture images from our YAML format.

    ``path`` defaults to :data:`DEFAULT_ADVISORIES_PATH`; the comments in that file describe
    the format. The result is validated with :meth:`AdvisorySet.validate`.

    Raises:
        AdvisoryDataError: the file is not valid YAML or breaks the format; the message
            names the file and the entry.
    """
    path = path or DEFAULT_ADVISORIES_PATH
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise AdvisoryDataError(f"{path} is not valid YAML: {error}") from error
    try:
        advisories = _parse_document(_mapping(document, "the document"))
        advisories.validate()
    except AdvisoryDataError as error:
        raise AdvisoryDataError(f"{path}: {error}") from error
    return advisories


def _parse_document(document: Mapping[str, Any]) -> AdvisorySet:
    _check_keys(
        document,
        "the document",
        optional={
            "data_sources",
            "vulnerabilities",
            "os_advisories",
            "language_advisories",
            "images",
        },
    )
    advisories = AdvisorySet()
    for bucket, entry in _mapping(document.get("data_sources", {}), "data_sources").items():
        where = f"data_sources -> {bucket}"
        fields = _mapping(entry, where)
        _check_keys(fields, where, required={"id", "name", "url"})
        advisories.add_data_source(
            bucket,
            DataSource(
                id=_text(fields["id"], f"{where} -> id"),
                name=_text(fields["name"], f"{where} -> name"),
                url=_text(fields["url"], f"{where} -> url"),
            ),
        )

    vulnerabilities = _mapping(document.get("vulnerabilities", {}), "vulnerabilities")
    for vulnerability_id, entry in vulnerabilities.items():
        advisories.add_vulnerability(
            _parse_vulnerability(vulnerability_id, entry, f"vulnerabilities -> {vulnerability_id}")
        )

    for section, parse in (
        ("os_advisories", _parse_os_advisory),
        ("language_advisories", _parse_language_advisory),
    ):
        for bucket, packages in _mapping(document.get(section, {}), section).items():
            for package, ids in _mapping(packages, f"{section} -> {bucket}").items():
                for vulnerability_id, entry in _mapping(ids, f"{section} -> {bucket}").items():
                    where = f"{section} -> {bucket} -> {package} -> {vulnerability_id}"
                    try:
                        advisories.add_advisory(
                            bucket, package, vulnerability_id, parse(entry, where)
                        )
                    except AdvisoryDataError as error:
                        raise AdvisoryDataError(f"{where}: {error}") from error

    images = _mapping(document.get("images", {}), "images")
    for name in images:
        _resolve_image(name, images, advisories.images, chain=())
    return advisories


def _parse_vulnerability(vulnerability_id: str, entry: object, where: str) -> Vulnerability:
    fields = _mapping(entry, where)
    _check_keys(
        fields,
        where,
        required={"title", "description", "severity"},
        optional={
            "vendor_severity",
            "cvss",
            "cwe_ids",
            "references",
            "published_date",
            "last_modified_date",
        },
    )
    cvss: dict[str, Cvss] = {}
    for source, scores in _mapping(fields.get("cvss", {}), f"{where} -> cvss").items():
        scores_where = f"{where} -> cvss -> {source}"
        score_fields = _mapping(scores, scores_where)
        _check_keys(score_fields, scores_where, required={"v3_vector", "v3_score"})
        score = score_fields["v3_score"]
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise AdvisoryDataError(f"{scores_where} -> v3_score is {score!r}; expected a number")
        cvss[source] = Cvss(_text(score_fields["v3_vector"], scores_where), float(score))

    vendor_where = f"{where} -> vendor_severity"
    return Vulnerability(
        id=vulnerability_id,
        title=_text(fields["title"], f"{where} -> title"),
        description=_text(fields["description"], f"{where} -> description"),
        severity=_severity(fields["severity"], f"{where} -> severity"),
        vendor_severity={
            source: _severity(value, f"{vendor_where} -> {source}")
            for source, value in _mapping(fields.get("vendor_severity", {}), vendor_where).items()
        },
        cvss=cvss,
        cwe_ids=_texts(fields.get("cwe_ids", []), f"{where} -> cwe_ids"),
        references=_texts(fields.get("references", []), f"{where} -> references"),
        published_date=_optional_time(fields.get("published_date"), f"{where} -> published_date"),
        last_modified_date=_optional_time(
            fields.get("last_modified_date"), f"{where} -> last_modified_date"
        ),
    )


def _parse_os_advisory(entry: object, where: str) -> Advisory:
    fields = _mapping(entry, where)
    _check_keys(fields, where, optional={"fixed_version", "status", "severity"})
    status = fields.get("status")
    severity = fields.get("severity")
    return OsAdvisory(
        fixed_version=_optional_text(fields.get("fixed_version"), f"{where} -> fixed_version"),
        status=None if status is None else _status(status, f"{where} -> status"),
        severity=None if severity is None else _severity(severity, f"{where} -> severity"),
    )


def _parse_language_advisory(entry: object, where: str) -> Advisory:
    fields = _mapping(entry, where)
    _check_keys(fields, where, required={"vulnerable_versions", "patched_versions"})
    return LanguageAdvisory(
        vulnerable_versions=_texts(
            fields["vulnerable_versions"], f"{where} -> vulnerable_versions"
        ),
        patched_versions=_texts(fields["patched_versions"], f"{where} -> patched_versions"),
    )


def _resolve_image(
    name: str,
    images: Mapping[str, Any],
    resolved: dict[str, FixtureImage],
    chain: tuple[str, ...],
) -> FixtureImage:
    """Parse image ``name``, parsing its base first so that it can inherit from it."""
    if name in resolved:
        return resolved[name]
    where = f"images -> {name}"
    if name in chain:
        raise AdvisoryDataError(f"{where}: base images form a cycle: {' -> '.join((*chain, name))}")
    if name not in images:
        raise AdvisoryDataError(f"images -> {chain[-1]} -> base: no image named {name!r}")

    fields = _mapping(images[name], where)
    _check_keys(
        fields,
        where,
        required={"packages", "expected_counts"},
        optional={"base", "os", "node_modules", "site_packages", "expected_findings"},
    )
    base_name = _optional_text(fields.get("base"), f"{where} -> base")
    base = (
        None if base_name is None else _resolve_image(base_name, images, resolved, (*chain, name))
    )

    if "os" in fields:
        os_fields = _mapping(fields["os"], f"{where} -> os")
        _check_keys(
            os_fields, f"{where} -> os", required={"family", "version"}, optional={"codename"}
        )
        os_family = _text(os_fields["family"], f"{where} -> os -> family")
        os_version = _text(os_fields["version"], f"{where} -> os -> version")
        os_codename = _optional_text(os_fields.get("codename"), f"{where} -> os -> codename")
    elif base is not None:
        os_family, os_version, os_codename = base.os_family, base.os_version, base.os_codename
    else:
        raise AdvisoryDataError(f"{where}: give either os or a base image that has one")

    packages = [
        _parse_package(entry, f"{where} -> packages[{index}]")
        for index, entry in enumerate(_sequence(fields["packages"], f"{where} -> packages"))
    ]
    findings = [
        _parse_expected_finding(entry, f"{where} -> expected_findings[{index}]")
        for index, entry in enumerate(
            _sequence(fields.get("expected_findings", []), f"{where} -> expected_findings")
        )
    ]
    counts: dict[Severity, SeverityCount] = {}
    counts_where = f"{where} -> expected_counts"
    for severity_name, entry in _mapping(fields["expected_counts"], counts_where).items():
        count_where = f"{counts_where} -> {severity_name}"
        count_fields = _mapping(entry, count_where)
        _check_keys(count_fields, count_where, required={"total", "fixable"})
        counts[_severity(severity_name, count_where)] = SeverityCount(
            total=_count(count_fields["total"], f"{count_where} -> total"),
            fixable=_count(count_fields["fixable"], f"{count_where} -> fixable"),
        )

    image = FixtureImage(
        name=name,
        base=base_name,
        os_family=os_family,
        os_version=os_version,
        os_codename=os_codename,
        packages=(*(base.packages if base else ()), *packages),
        node_modules=_optional_text(fields.get("node_modules"), f"{where} -> node_modules")
        or (base.node_modules if base else None),
        site_packages=_optional_text(fields.get("site_packages"), f"{where} -> site_packages")
        or (base.site_packages if base else None),
        expected_findings=(*(base.expected_findings if base else ()), *findings),
        expected_counts=counts,
    )
    resolved[name] = image
    return image


_PACKAGE_MANAGERS = ("dpkg", "apk", "npm", "pip")


def _parse_package(entry: object, where: str) -> FixturePackage:
    fields = _mapping(entry, where)
    _check_keys(
        fields, where, required={"manager", "name", "version"}, optional={"source", "maintainer"}
    )
    manager = _text(fields["manager"], f"{where} -> manager")
    if manager not in _PACKAGE_MANAGERS:
        raise AdvisoryDataError(
            f"{where} -> manager is {manager!r}; expected one of {', '.join(_PACKAGE_MANAGERS)}"
        )
    return FixturePackage(
        manager=manager,
        name=_text(fields["name"], f"{where} -> name"),
        version=_text(fields["version"], f"{where} -> version"),
        source=_optional_text(fields.get("source"), f"{where} -> source"),
        maintainer=_optional_text(fields.get("maintainer"), f"{where} -> maintainer"),
    )


def _parse_expected_finding(entry: object, where: str) -> ExpectedFinding:
    fields = _mapping(entry, where)
    _check_keys(
        fields,
        where,
        required={"id", "package", "installed_version", "severity", "status"},
        optional={"fixed_version"},
    )
    return ExpectedFinding(
        vulnerability_id=_text(fields["id"], f"{where} -> id"),
        package=_text(fields["package"], f"{where} -> package"),
        installed_version=_text(fields["installed_version"], f"{where} -> installed_version"),
        severity=_severity(fields["severity"], f"{where} -> severity"),
        status=_status(fields["status"], f"{where} -> status"),
        fixed_version=_optional_text(fields.get("fixed_version"), f"{where} -> fixed_version"),
    )


# Typed access to the parsed YAML, with errors that name the entry.


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdvisoryDataError(f"{where} is {type(value).__name__}; expected a mapping")
    for key in value:
        if not isinstance(key, str):
            raise AdvisoryDataError(
                f"{where} has the key {key!r} of type {type(key).__name__}; quote it in the YAML"
            )
    return value


def _sequence(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise AdvisoryDataError(f"{where} is {type(value).__name__}; expected a list")
    return value


def _check_keys(
    fields: Mapping[str, Any],
    where: str,
    *,
    required: Iterable[str] = (),
    optional: Iterable[str] = (),
) -> None:
    required = set(required)
    missing = sorted(required - fields.keys())
    if missing:
        raise AdvisoryDataError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(fields.keys() - required - set(optional))
    if unknown:
        raise AdvisoryDataError(
            f"{where} has unknown keys {', '.join(unknown)}; check the spelling"
        )


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise AdvisoryDataError(
            f"{where} is {value!r} ({type(value).__name__}); expected text, so quote it"
        )
    return value


def _optional_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _texts(value: object, where: str) -> tuple[str, ...]:
    return tuple(
        _text(item, f"{where}[{index}]") for index, item in enumerate(_sequence(value, where))
    )


def _count(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AdvisoryDataError(f"{where} is {value!r}; expected a whole number of 0 or more")
    return value


def _severity(value: object, where: str) -> Severity:
    text = _text(value, where)
    try:
        return Severity(text)
    except ValueError:
        names = ", ".join(severity.value for severity in Severity)
        raise AdvisoryDataError(f"{where} is {text!r}; expected one of {names}") from None


def _status(value: object, where: str) -> AdvisoryStatus:
    text = _text(value, where)
    try:
        return AdvisoryStatus[text.upper()]
    except KeyError:
        names = ", ".join(status.label for status in AdvisoryStatus)
        raise AdvisoryDataError(f"{where} is {text!r}; expected one of {names}") from None


def _optional_time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise AdvisoryDataError(
                f"{where} is {text!r}; expected an RFC 3339 time such as 2024-01-26T09:15:07Z"
            ) from None
    if moment.tzinfo is None:
        raise AdvisoryDataError(f"{where} has no time zone; end it with Z for UTC")
    return moment
