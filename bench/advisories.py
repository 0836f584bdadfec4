"""The benchmark's Trivy DB: tens of thousands of advisories, a realistic share matching.

It starts from the lab's fixture advisories (real CVE facts for zlib, OpenSSL and glibc,
whose packages every Debian image of the estate carries) and adds generated ones for the
estate's packages with :meth:`AdvisorySet.add_generated_advisories`:

- for every installed Debian source, apk origin and language package, several advisories
  fixed before the installed version, which Trivy reads and discards as real DBs make it;
- for about a fifth of the Debian sources (less for language packages), advisories fixed
  after the installed version or never fixed, which Trivy reports;
- advisories for packages no image has, so the DB's buckets are much larger than the estate.

``revision=2`` gives the next day's DB: the same advisories plus some new ones, a few of
which match installed packages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bench.inventory import EstateInventory, bump_version, sample_names, seeded
from hullcheck.analysis.models import Severity
from hullcheck.lab.trivydb import (
    AdvisorySet,
    AdvisoryStatus,
    DataSource,
    LanguageAdvisory,
    OsAdvisory,
    build_trivy_db,
    load_advisories,
)

DEBIAN_BUCKET = "debian 12"
ALPINE_BUCKET = "alpine 3.22"
NPM_BUCKET = "npm::GitHub Security Advisory npm"
PIP_BUCKET = "pip::GitHub Security Advisory pip"

_SEVERITY_WEIGHTS = (
    (Severity.LOW, 25),
    (Severity.MEDIUM, 40),
    (Severity.HIGH, 25),
    (Severity.CRITICAL, 10),
)
_NEVER_MATCHES_OS = OsAdvisory(fixed_version="0.0.1-1")
_NEVER_MATCHES_APK = OsAdvisory(fixed_version="0.0.1-r0")
_NEVER_MATCHES_LANGUAGE = LanguageAdvisory(
    vulnerable_versions=("< 0.0.1",), patched_versions=("0.0.1",)
)


def _severity(label: str) -> Severity:
    severities = [severity for severity, _ in _SEVERITY_WEIGHTS]
    weights = [weight for _, weight in _SEVERITY_WEIGHTS]
    return seeded(label).choices(severities, weights)[0]


def _fixed_after(versions: set[str]) -> str | None:
    """Return a version just above every installed one, or None for a version we did not generate."""
    try:
        return max(bump_version(version, 1) for version in versions)
    except ValueError:
        return None


def _add_matching_fixed(
    advisories: AdvisorySet,
    bucket: str,
    installed: dict[str, set[str]],
    names: Sequence[str],
    *,
    label: str,
    id_prefix: str,
    language: bool,
) -> None:
    for name in names:
        fixed = _fixed_after(installed[name])
        if fixed is None:
            continue
        advisory: OsAdvisory | LanguageAdvisory = (
            LanguageAdvisory(vulnerable_versions=(f"< {fixed}",), patched_versions=(fixed,))
            if language
            else OsAdvisory(fixed_version=fixed)
        )
        count = seeded(f"{label}:count:{name}").randint(1, 3 if not language else 2)
        advisories.add_generated_advisories(
            bucket,
            [name],
            count,
            advisory,
            severity=_severity(f"{label}:severity:{name}"),
            id_prefix=id_prefix,
        )


def _add_debian(advisories: AdvisorySet, inventory: EstateInventory) -> None:
    sources = sorted(inventory.debian)
    advisories.add_generated_advisories(
        DEBIAN_BUCKET, sources, 18 * len(sources), _NEVER_MATCHES_OS, id_prefix="CVE-2019-"
    )
    _add_matching_fixed(
        advisories,
        DEBIAN_BUCKET,
        inventory.debian,
        sample_names(sources, 0.20, "debian-fixed"),
        label="debian-fixed",
        id_prefix="CVE-2024-",
        language=False,
    )
    unfixed = sample_names(sources, 0.08, "debian-unfixed")
    if unfixed:
        half = len(unfixed) // 2
        advisories.add_generated_advisories(
            DEBIAN_BUCKET,
            unfixed[:half] or unfixed,
            len(unfixed[:half] or unfixed),
            OsAdvisory(status=AdvisoryStatus.WILL_NOT_FIX),
            id_prefix="CVE-2023-",
        )
        if unfixed[half:] and half:
            advisories.add_generated_advisories(
                DEBIAN_BUCKET,
                unfixed[half:],
                len(unfixed[half:]),
                OsAdvisory(),
                id_prefix="CVE-2023-",
            )
    absent = [f"absent-source-{index}" for index in range(600)]
    advisories.add_generated_advisories(
        DEBIAN_BUCKET,
        absent,
        8 * len(absent),
        OsAdvisory(fixed_version="1.0-1"),
        id_prefix="CVE-2018-",
    )


def _add_alpine(advisories: AdvisorySet, inventory: EstateInventory) -> None:
    advisories.add_data_source(
        ALPINE_BUCKET, DataSource("alpine", "Alpine Secdb", "https://secdb.alpinelinux.org/")
    )
    origins = sorted(inventory.alpine)
    if not origins:
        return
    advisories.add_generated_advisories(
        ALPINE_BUCKET, origins, 10 * len(origins), _NEVER_MATCHES_APK, id_prefix="CVE-2019-"
    )
    _add_matching_fixed(
        advisories,
        ALPINE_BUCKET,
        inventory.alpine,
        sample_names(origins, 0.15, "alpine-fixed"),
        label="alpine-fixed",
        id_prefix="CVE-2024-",
        language=False,
    )


def _add_language(
    advisories: AdvisorySet, bucket: str, installed: dict[str, set[str]], share: float, label: str
) -> None:
    names = sorted(installed)
    if names:
        advisories.add_generated_advisories(
            bucket, names, 2 * len(names), _NEVER_MATCHES_LANGUAGE, id_prefix="GHSA-2019-"
        )
        _add_matching_fixed(
            advisories,
            bucket,
            installed,
            sample_names(names, share, f"{label}-fixed"),
            label=f"{label}-fixed",
            id_prefix="GHSA-2024-",
            language=True,
        )
    absent = [f"absent-{label}-{index}" for index in range(1500)]
    advisories.add_generated_advisories(
        bucket, absent, 2 * len(absent), _NEVER_MATCHES_LANGUAGE, id_prefix="GHSA-2018-"
    )


def _add_next_day(advisories: AdvisorySet, inventory: EstateInventory) -> None:
    """Advisories published between two DB builds: a few match installed packages."""
    sources = sorted(inventory.debian)
    _add_matching_fixed(
        advisories,
        DEBIAN_BUCKET,
        inventory.debian,
        sample_names(sources, 0.05, "debian-next-day"),
        label="debian-next-day",
        id_prefix="CVE-2025-",
        language=False,
    )
    _add_matching_fixed(
        advisories,
        NPM_BUCKET,
        inventory.npm,
        sample_names(sorted(inventory.npm), 0.01, "npm-next-day"),
        label="npm-next-day",
        id_prefix="GHSA-2025-",
        language=True,
    )
    advisories.add_generated_advisories(
        DEBIAN_BUCKET, sources, 2 * len(sources), _NEVER_MATCHES_OS, id_prefix="CVE-2025-"
    )


def estate_advisories(inventory: EstateInventory, *, revision: int = 1) -> AdvisorySet:
    """Return the DB contents for ``inventory``; ``revision=2`` adds the next day's advisories."""
    advisories = load_advisories()
    _add_debian(advisories, inventory)
    _add_alpine(advisories, inventory)
    _add_language(advisories, NPM_BUCKET, inventory.npm, 0.04, "npm")
    _add_language(advisories, PIP_BUCKET, inventory.pip, 0.08, "pip")
    if revision >= 2:
        _add_next_day(advisories, inventory)
    return advisories


def write_estate_db(
    cache_dir: Path, inventory: EstateInventory, *, revision: int, first_update: datetime
) -> int:
    """Write the DB of ``revision`` into ``cache_dir``/db; return its advisory count.

    Revision N is dated ``first_update`` plus N - 1 days, so each revision has a later
    UpdatedAt, which is what makes hullcheck match its stored SBOMs again.
    """
    advisories = estate_advisories(inventory, revision=revision)
    build_trivy_db(cache_dir, advisories, updated_at=first_update + timedelta(days=revision - 1))
    return advisories.advisory_count()
