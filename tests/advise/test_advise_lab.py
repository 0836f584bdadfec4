"""``hullcheck advise`` on the lab: real registry, engine pulls and Trivy with the fixture DB."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from advise_lab import (
    FIXED_LIBC6,
    AppRepository,
    bare_rootfs,
    document,
    invoke,
    lab_arguments,
    on_engine,
    remove_local,
)

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.exitcodes import ExitCode
from hullcheck.lab.images import import_image, publish, push_image
from hullcheck.lab.services import Lab


def candidate(report: dict[str, Any], tag: str) -> dict[str, Any]:
    for entry in report["candidates"]:
        if entry["tag"] == tag:
            return entry  # type: ignore[no-any-return]
    raise AssertionError(f"no candidate {tag} in {[c['tag'] for c in report['candidates']]}")


def test_advise_json_on_lab(lab: Lab, app_repository: AppRepository, trivy_cache: Path) -> None:
    before = len(lab.registry_requests())

    result = invoke(
        "advise",
        app_repository.image("1.0.0"),
        "--format",
        "json",
        *lab_arguments(lab, trivy_cache),
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    report = document(result)
    assert report["schema_version"] == 1
    assert report["tags"] == {"listed": 6, "truncated": False, "error": None}
    assert report["scanner"]["trivy_version"] == "0.76.0"

    current = report["current"]
    assert current["image"] == app_repository.image("1.0.0")
    assert current["digest"] == app_repository.digest("1.0.0")
    assert current["status"] == "scanned"
    assert current["severity_counts"]["CRITICAL"] == 1
    assert current["severity_counts"]["HIGH"] == 1
    assert current["severity_counts"]["LOW"] == 1
    assert current["fixable_counts"]["CRITICAL"] == 0
    assert current["fixable_counts"]["HIGH"] == 1

    # The three newest tags of the series, newest first, then the variant of 1.0.0.
    assert [(c["tag"], c["kind"]) for c in report["candidates"]] == [
        ("2.0.0", "newer"),
        ("1.1.0", "newer"),
        ("1.0.1", "newer"),
        ("1.0.0-alpine", "variant"),
    ]
    for entry in report["candidates"]:
        assert entry["digest"] == app_repository.digest(entry["tag"])
        assert entry["status"] == "scanned"
        assert entry["image"] == app_repository.image(entry["tag"])

    fixed_libc = candidate(report, "1.0.1")
    assert fixed_libc["severity_counts"]["HIGH"] == 0
    assert fixed_libc["severity_counts"]["CRITICAL"] == 1
    assert fixed_libc["clears"] == ["CVE-2023-4911"]
    assert fixed_libc["adds"] == []

    fixed_both = candidate(report, "1.1.0")
    assert fixed_both["severity_counts"]["LOW"] == 0
    assert fixed_both["clears"] == ["CVE-2023-4911", "CVE-2024-0727"]
    assert fixed_both["adds"] == []

    node = candidate(report, "2.0.0")
    assert node["severity_counts"]["HIGH"] == 3
    assert node["fixable_counts"]["HIGH"] == 3
    assert node["clears"] == []
    assert node["adds"] == ["CVE-2021-23337", "CVE-2024-4068"]

    # Alpine has CVE-2024-0727 too (from its own advisory), so the variant does not clear it.
    alpine = candidate(report, "1.0.0-alpine")
    assert alpine["severity_counts"]["CRITICAL"] == 0
    assert alpine["severity_counts"]["MEDIUM"] == 2
    assert alpine["clears"] == ["CVE-2023-45853", "CVE-2023-4911"]
    assert alpine["adds"] == ["CVE-2023-6237"]

    assert report["by_vulnerability"] == {
        "CVE-2023-45853": [app_repository.image("1.0.0-alpine")],
        "CVE-2023-4911": [
            app_repository.image("1.1.0"),
            app_repository.image("1.0.1"),
            app_repository.image("1.0.0-alpine"),
        ],
        "CVE-2024-0727": [app_repository.image("1.1.0")],
    }

    # The tag list is one GET; candidates are pulled by digest, never a manifest GET by tag.
    sent = lab.registry_requests()[before:]
    path = app_repository.path
    assert ("GET", f"/v2/{path}/tags/list?n=1000", 200) in sent
    for tag in ("2.0.0", "1.1.0", "1.0.1", "1.0.0-alpine"):
        digest = app_repository.digest(tag)
        assert ("GET", f"/v2/{path}/manifests/{digest}", 200) in sent
        assert ("HEAD", f"/v2/{path}/manifests/{tag}", 200) in sent
    manifest_gets = [r.path for r in sent if r.method == "GET" and "/manifests/" in r.path]
    assert all("/manifests/sha256:" in manifest_path for manifest_path in manifest_gets)

    # Nothing was run, and what advise pulled is gone again.
    containers = lab.client().containers.list(all=True)
    assert not [c for c in containers if c.attrs["Config"]["Image"].startswith(path)]
    for tag in ("1.0.0", "2.0.0", "1.1.0", "1.0.1", "1.0.0-alpine"):
        assert not on_engine(lab, f"{app_repository.repository}@{app_repository.digest(tag)}")
    assert not on_engine(lab, app_repository.image("1.0.0"))


def test_advise_table_on_lab(lab: Lab, app_repository: AppRepository, trivy_cache: Path) -> None:
    result = invoke("advise", app_repository.image("1.0.0"), *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    lines = result.stdout.splitlines()
    [alpine_row] = [line for line in lines if "1.0.0-alpine" in line and "variant" in line]
    assert "0 (-1)" in alpine_row
    [libc_row] = [line for line in lines if "CVE-2023-4911" in line]
    assert "1.1.0, 1.0.1, 1.0.0-alpine" in libc_row
    [zlib_row] = [line for line in lines if "CVE-2023-45853" in line]
    assert "1.0.0-alpine" in zlib_row
    # LOW findings are left out of the per-vulnerability table by default.
    assert not any("CVE-2024-0727" in line for line in lines)


def test_advise_keeps_images_on_request(
    lab: Lab, app_repository: AppRepository, trivy_cache: Path
) -> None:
    result = invoke(
        "advise",
        app_repository.image("1.0.1"),
        "--format",
        "json",
        "--max-candidates",
        "1",
        "--no-variants",
        "--keep-images",
        *lab_arguments(lab, trivy_cache),
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    report = document(result)
    assert [c["tag"] for c in report["candidates"]] == ["2.0.0"]
    assert report["candidates"][0]["clears"] == []
    assert report["candidates"][0]["adds"] == [
        "CVE-2021-23337",
        "CVE-2023-4911",
        "CVE-2024-4068",
    ]
    kept = f"{app_repository.repository}@{app_repository.digest('2.0.0')}"
    assert on_engine(lab, kept)
    assert on_engine(lab, app_repository.image("1.0.1"))
    remove_local(lab, [kept, app_repository.image("1.0.1")])


def test_failed_candidate_has_no_counts(
    lab: Lab, foreign_repository: AppRepository, trivy_cache: Path
) -> None:
    result = invoke(
        "advise",
        foreign_repository.image("1.0.0"),
        "--format",
        "json",
        *lab_arguments(lab, trivy_cache),
    )

    assert result.exit_code == ExitCode.SCAN_FAILED, result.stderr
    report = document(result)
    assert [c["tag"] for c in report["candidates"]] == ["1.2.0", "1.0.1"]
    failed = candidate(report, "1.2.0")
    assert failed["status"] == "failed"
    assert failed["failure"] == "image_unavailable"
    assert failed["digest"] == foreign_repository.digest("1.2.0")
    pulled = f"{foreign_repository.repository}@{foreign_repository.digest('1.2.0')}"
    assert failed["reason"].startswith(f"pull of {pulled} failed")
    assert failed["severity_counts"] is None
    assert failed["fixable_counts"] is None
    assert failed["clears"] is None
    assert failed["adds"] is None
    assert report["by_vulnerability"]["CVE-2023-4911"] == [foreign_repository.image("1.0.1")]
    assert all(
        foreign_repository.image("1.2.0") not in images
        for images in report["by_vulnerability"].values()
    )
    assert candidate(report, "1.0.1")["status"] == "scanned"


def test_failed_candidate_in_table(
    lab: Lab, foreign_repository: AppRepository, trivy_cache: Path
) -> None:
    result = invoke("advise", foreign_repository.image("1.0.0"), *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.SCAN_FAILED
    [row] = [line for line in result.stdout.splitlines() if "1.2.0" in line]
    assert "scan failed (image_unavailable)" in row
    assert " 0 " not in row


def test_advise_service_with_labels(
    lab: Lab, app_repository: AppRepository, trivy_cache: Path, tmp_path: Path
) -> None:
    stack = tmp_path / "shop"
    stack.mkdir()
    # "$$" is a literal "$" in compose, so the include label keeps its end anchor.
    (stack / "compose.yaml").write_text(
        "services:\n"
        "  web:\n"
        f"    image: {app_repository.image('1.0.0')}\n"
        "    labels:\n"
        '      hullcheck.tags.include: "^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$$"\n'
        '      hullcheck.tags.exclude: "^2\\\\."\n'
    )

    result = invoke("advise", "web", stack, "--format", "json", *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    report = document(result)
    assert report["service"] == "shop/web"
    assert report["target"] == app_repository.image("1.0.0")
    # The exclude label drops 2.0.0; the include label does not apply to variants.
    assert [(c["tag"], c["kind"]) for c in report["candidates"]] == [
        ("1.1.0", "newer"),
        ("1.0.1", "newer"),
        ("1.0.0-alpine", "variant"),
    ]


def test_unknown_service_in_path(lab: Lab, trivy_cache: Path, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: example/web:1.0\n")

    result = invoke("advise", "db", tmp_path, *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.USAGE
    assert "no service 'db'" in result.stderr
    assert "web" in result.stderr


def test_digest_only_reference_rejected(lab: Lab, trivy_cache: Path) -> None:
    image = f"{lab.registry}/tests/app@sha256:{'a' * 64}"

    result = invoke("advise", image, *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.USAGE
    assert "no tag" in result.stderr


def test_unreachable_registry_fails_loudly(lab: Lab, trivy_cache: Path) -> None:
    # Nothing listens on port 9: listing, the pull and so the scan all fail.
    image = "127.0.0.1:9/tests/app:1.0.0"

    result = invoke("advise", image, "--format", "json", *lab_arguments(lab, trivy_cache))

    assert result.exit_code == ExitCode.SCAN_FAILED
    report = document(result)
    assert report["tags"]["listed"] is None
    assert "network" in report["tags"]["error"]
    assert report["current"]["status"] == "failed"
    assert report["current"]["severity_counts"] is None
    assert report["candidates"] == []
    assert report["by_vulnerability"] == {}


def test_unanalysed_variant_not_clean(lab: Lab, lab_repository: str, trivy_cache: Path) -> None:
    # A distroless-style image without OS files or package lists: Trivy analyses nothing,
    # which must not read as "clears every vulnerability".
    current = publish(lab, "debian-base", lab_repository, "1.0.0")
    import_image(lab, bare_rootfs(), current.repository, "1.0.0-distroless")
    push_image(lab, current.repository, "1.0.0-distroless")
    remove_local(lab, [current.reference, f"{current.repository}:1.0.0-distroless"])

    result = invoke(
        "advise", current.reference, "--format", "json", *lab_arguments(lab, trivy_cache)
    )

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    report = document(result)
    [variant] = report["candidates"]
    assert variant["tag"] == "1.0.0-distroless"
    assert variant["kind"] == "variant"
    assert variant["status"] == "nothing_analysed"
    assert variant["severity_counts"] is None
    assert variant["clears"] is None
    assert variant["adds"] is None
    assert report["by_vulnerability"]["CVE-2023-45853"] == []


def test_running_service_is_current(
    lab: Lab, lab_repository: str, trivy_cache: Path, tmp_path: Path
) -> None:
    running = publish(lab, "debian-base", lab_repository, "1.0.0", revision="running")
    newer = publish(lab, "debian-base", lab_repository, "1.0.1", package_versions=FIXED_LIBC6)
    stack = tmp_path / "run"
    stack.mkdir()
    compose = stack / "compose.yaml"
    compose.write_text(
        f'services:\n  web:\n    image: {running.reference}\n    command: ["sleep", "infinity"]\n'
    )
    project = f"adv{secrets.token_hex(3)}"
    run_compose([compose], ["up", "-d"], project=project, env=lab.env())
    try:
        # The tag moves on after deployment: the running container keeps the old image.
        moved = publish(lab, "debian-base", lab_repository, "1.0.0", package_versions=FIXED_LIBC6)

        result = invoke(
            "advise",
            "web",
            compose,
            "--project-name",
            project,
            "--format",
            "json",
            *lab_arguments(lab, trivy_cache),
        )
    finally:
        run_compose([compose], ["down", "--timeout", "1"], project=project, env=lab.env())

    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    report = document(result)
    assert report["current"]["image_id"] == running.image_id
    assert report["current"]["image_id"] != moved.image_id
    assert report["current"]["severity_counts"]["HIGH"] == 1
    assert [c["tag"] for c in report["candidates"]] == ["1.0.1"]
    assert report["candidates"][0]["digest"] == newer.digest
    assert report["candidates"][0]["clears"] == ["CVE-2023-4911"]
