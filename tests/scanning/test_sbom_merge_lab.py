"""Matching SBOMs merged per OS gives each image exactly what matching it alone gives.

Real fixture images on the lab, real Trivy and the fixture DB. The images share the
Debian base, one carries other package versions, and one has an npm package at two
paths, which a merged match must report at both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hullcheck.lab.images import publish
from hullcheck.lab.services import Lab
from hullcheck.scanning.trivy import DbUpdate, ImageScanError, TrivyOptions, TrivyScanner

SECOND_LODASH = json.dumps({"name": "lodash", "version": "4.17.20", "license": "MIT"})


@pytest.fixture(scope="module")
def stored_sboms(
    lab: Lab, lab_trivy_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrivyScanner, list[Path]]:
    """Publish six images, analyse each once and keep its SBOM, as a first scan does."""
    work = tmp_path_factory.mktemp("merge")
    cache = Path(shutil.copytree(lab_trivy_cache, work / "cache"))
    scanner = TrivyScanner(
        TrivyOptions(cache_dir=cache, db_update=DbUpdate.SKIP, docker_host=lab.docker_host)
    )
    scanner.prepare()
    images = [
        publish(lab, "debian-base", "tests/merge-debian", "1"),
        publish(lab, "node-app", "tests/merge-node", "1"),
        publish(
            lab,
            "node-app",
            "tests/merge-node-twice",
            "1",
            extra_files={"/usr/local/lib/node_modules/lodash/package.json": SECOND_LODASH},
        ),
        publish(lab, "python-app", "tests/merge-python", "1"),
        publish(
            lab, "node-app", "tests/merge-node-fixed", "1", package_versions={"lodash": "4.17.21"}
        ),
        publish(lab, "alpine-base", "tests/merge-alpine", "1"),
    ]
    sboms = []
    for index, image in enumerate(images):
        sbom = work / f"{index}.cdx.json"
        scanner.scan_image(image.reference, sbom_output=sbom)
        sboms.append(sbom)
    scanner.finish()
    return scanner, sboms


def test_merged_match_equals_single_matches(
    stored_sboms: tuple[TrivyScanner, list[Path]],
) -> None:
    scanner, sboms = stored_sboms
    merged = scanner.scan_sboms(sboms, workers=2)
    assert set(merged) == set(sboms)
    for sbom in sboms:
        alone = scanner.scan_sbom(sbom)
        found = merged[sbom]
        assert not isinstance(found, ImageScanError), found
        assert found == alone, sbom.name
        assert found.findings, sbom.name


def test_package_at_two_paths_reported_twice(
    stored_sboms: tuple[TrivyScanner, list[Path]],
) -> None:
    scanner, sboms = stored_sboms
    found = scanner.scan_sboms(sboms, workers=1)[sboms[2]]
    assert not isinstance(found, ImageScanError), found
    lodash = [finding for finding in found.findings if finding.vulnerability_id == "CVE-2021-23337"]
    assert len(lodash) == 1
    paths = sorted(package.path or "" for package in lodash[0].packages)
    assert paths == [
        "app/node_modules/lodash/package.json",
        "usr/local/lib/node_modules/lodash/package.json",
    ]


def test_debian_images_share_one_process(
    stored_sboms: tuple[TrivyScanner, list[Path]], tmp_path: Path
) -> None:
    scanner, sboms = stored_sboms
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "trivy"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{scanner.binary}" "$@"\n')
    wrapper.chmod(0o755)
    counting = TrivyScanner(
        TrivyOptions(
            binary=str(wrapper), cache_dir=scanner.options.cache_dir, db_update=DbUpdate.SKIP
        )
    )
    counting.prepare()
    before = log.read_text().split()

    counting.scan_sboms(sboms, workers=2)
    calls = log.read_text().split()[len(before) :]
    # Five Debian images in one merged match, the Alpine image alone.
    assert calls == ["sbom", "sbom"]


def test_broken_sbom_fails_alone(
    stored_sboms: tuple[TrivyScanner, list[Path]], tmp_path: Path
) -> None:
    scanner, sboms = stored_sboms
    broken = tmp_path / "broken.cdx.json"
    broken.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [')
    results = scanner.scan_sboms([*sboms[:2], broken], workers=2)
    assert isinstance(results[broken], ImageScanError)
    assert not isinstance(results[sboms[0]], ImageScanError)
    assert not isinstance(results[sboms[1]], ImageScanError)


def test_package_versions_kept_apart(
    stored_sboms: tuple[TrivyScanner, list[Path]],
) -> None:
    scanner, sboms = stored_sboms
    results = scanner.scan_sboms(sboms, workers=2)
    vulnerable, fixed = results[sboms[1]], results[sboms[4]]
    assert not isinstance(vulnerable, ImageScanError), vulnerable
    assert not isinstance(fixed, ImageScanError), fixed
    assert "CVE-2021-23337" in {finding.vulnerability_id for finding in vulnerable.findings}
    assert "CVE-2021-23337" not in {finding.vulnerability_id for finding in fixed.findings}
