"""``hullcheck summarize`` in-process: stdout carries only the report, errors go to stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from hullcheck.cli.summarize import register
from hullcheck.exitcodes import ExitCode


def make_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    # A callback keeps ``summarize`` a sub-command, as in the real app.
    @app.callback()
    def root() -> None:
        pass

    register(app)
    return app


def invoke(*args: str | Path, stdin: str | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    return runner.invoke(make_app(), ["summarize", *map(str, args)], input=stdin)


def vulnerability(
    vulnerability_id: str, package: str, severity: str, **fields: Any
) -> dict[str, Any]:
    return {"VulnerabilityID": vulnerability_id, "PkgName": package, "Severity": severity, **fields}


def write_json(directory: Path, name: str, document: object) -> Path:
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def stdout_json(result: Result) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


# Trivy omits Results when nothing was found, and older releases wrote null lists.
NO_OS_NO_RESULTS = {
    "SchemaVersion": 2,
    "ArtifactName": "example/app:1.0",
    "ArtifactType": "container_image",
    "Metadata": {"OS": {"Family": "none", "Name": ""}},
}
OS_RESULT_ONLY = {
    "SchemaVersion": 2,
    "ArtifactName": "example/os:5.4",
    "ArtifactType": "container_image",
    "Results": [{"Target": "example/os:5.4 (slem 5.4)", "Class": "os-pkgs", "Type": "slem"}],
}
CUSTOM_RESULT = {
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
STATUS_REPORT = {
    "SchemaVersion": 2,
    "Trivy": {"Version": "0.76.0"},
    "ArtifactName": "example/status:1",
    "Metadata": {"OS": {"Family": "debian", "Name": "12.8"}, "ImageID": "sha256:" + "5" * 64},
    "Results": [
        {
            "Target": "example/status:1 (debian 12.8)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [
                vulnerability(
                    "CVE-2000-0005", "a", "HIGH", InstalledVersion="1", Status="will_not_fix"
                ),
                vulnerability(
                    "CVE-2000-0006", "b", "CRITICAL", InstalledVersion="1", Status="fix_deferred"
                ),
                vulnerability(
                    "CVE-2000-0007", "c", "HIGH", InstalledVersion="1", Status="end_of_life"
                ),
                vulnerability(
                    "CVE-2000-0008", "d", "HIGH", InstalledVersion="1", Status="affected"
                ),
                vulnerability(
                    "CVE-2000-0009",
                    "e",
                    "CRITICAL",
                    InstalledVersion="1",
                    FixedVersion="2",
                    Status="fixed",
                ),
                vulnerability("CVE-2000-0010", "f", "HIGH", InstalledVersion="1", FixedVersion="2"),
                vulnerability(
                    "CVE-2000-0011", "g", "HIGH", InstalledVersion="1", Status="some_future_status"
                ),
            ],
        }
    ],
}


def test_empty_reports_zero_and_flagged(tmp_path: Path) -> None:
    paths = [
        write_json(tmp_path, "none.json", NO_OS_NO_RESULTS),
        write_json(tmp_path, "os.json", OS_RESULT_ONLY),
        write_json(tmp_path, "custom.json", CUSTOM_RESULT),
    ]

    result = invoke(*paths, "--format", "json")
    document = stdout_json(result)
    images = {entry["image"]: entry for entry in document["images"]}

    assert result.exit_code == ExitCode.SUCCESS
    assert set(images) == {"example/app:1.0", "example/os:5.4", "example/jre:11"}
    for entry in images.values():
        assert entry["severity_counts"] == {
            "CRITICAL": 0,
            "HIGH": 0,
            "MEDIUM": 0,
            "LOW": 0,
            "UNKNOWN": 0,
        }
    assert images["example/app:1.0"]["status"] == "nothing_analysed"
    assert (
        images["example/app:1.0"]["reason"]
        == "Trivy detected no OS (family 'none') and no packages"
    )
    assert images["example/os:5.4"]["status"] == "scanned"
    assert images["example/jre:11"]["status"] == "scanned"
    assert document["run"]["command"] == "summarize"
    assert document["run"]["status"] == "complete"


def test_nothing_analysed_table_not_clean(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_json(tmp_path, "none.json", NO_OS_NO_RESULTS)

    result = invoke(path)
    row = next(line for line in result.stdout.splitlines() if "example/app:1.0" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]

    assert result.exit_code == ExitCode.SUCCESS
    assert cells[2] == "nothing analysed: Trivy detected no OS (family 'none') and no packages"
    assert cells[3:] == ["—", "—"]
    assert f"{path}: nothing analysed" in caplog.text


def test_severity_from_trivy_not_nvd(tmp_path: Path) -> None:
    document = {
        "SchemaVersion": 2,
        "ArtifactName": "example/buster:10",
        "Metadata": {"OS": {"Family": "debian", "Name": "10.1"}},
        "Results": [
            {
                "Target": "example/buster:10 (debian 10.1)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    vulnerability(
                        "CVE-2000-0002",
                        "bash",
                        "LOW",
                        InstalledVersion="5.0-4",
                        Status="affected",
                        SeveritySource="debian",
                        VendorSeverity={"nvd": 3, "debian": 1, "redhat": 1},
                        CVSS={"nvd": {"V3Score": 7.8}},
                    ),
                    vulnerability(
                        "CVE-2019-18224",
                        "libidn2-0",
                        "CRITICAL",
                        InstalledVersion="2.0.5-1",
                        FixedVersion="2.0.5-1+deb10u1",
                        Status="fixed",
                        SeveritySource="nvd",
                        VendorSeverity={"nvd": 4, "redhat": 2},
                    ),
                ],
            }
        ],
    }
    path = write_json(tmp_path, "buster.json", document)

    result = invoke(path, "--format", "json", "--severity", "CRITICAL,HIGH,LOW")
    entry = stdout_json(result)["images"][0]
    bash = next(f for f in entry["findings"] if f["id"] == "CVE-2000-0002")

    assert entry["severity_counts"]["CRITICAL"] == 1
    assert entry["severity_counts"]["HIGH"] == 0
    assert entry["severity_counts"]["LOW"] == 1
    assert bash["severity"] == "LOW"
    assert bash["vendor_severity"] == {"debian": 1, "nvd": 3, "redhat": 1}


def test_status_counts_fixable_and_unfixed(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--format", "json")
    entry = stdout_json(result)["images"][0]
    total = entry["severity_counts"]
    fixable = entry["fixable_counts"]

    assert (total["CRITICAL"], total["HIGH"]) == (2, 5)
    assert (fixable["CRITICAL"], fixable["HIGH"]) == (1, 1)
    assert (total["CRITICAL"] - fixable["CRITICAL"], total["HIGH"] - fixable["HIGH"]) == (1, 4)


def test_hide_unfixed_counts(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--format", "json", "--hide-unfixed")
    document = stdout_json(result)
    entry = document["images"][0]

    assert (entry["severity_counts"]["CRITICAL"], entry["severity_counts"]["HIGH"]) == (1, 1)
    assert [f["id"] for f in entry["findings"]] == ["CVE-2000-0009", "CVE-2000-0010"]
    assert document["filters"]["hide_unfixed"] is True


def test_table_shows_fixable_and_version(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path)

    assert result.exit_code == ExitCode.SUCCESS
    assert "2 (1 fixable)" in result.stdout
    assert "5 (1 fixable)" in result.stdout
    assert "Trivy 0.76.0, vulnerability DB date unknown." in result.stdout
    assert result.stderr == ""


def test_markdown_lists_findings(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--format", "markdown")

    assert result.exit_code == ExitCode.SUCCESS
    assert result.stdout.startswith("# hullcheck report\n")
    assert "| `example/status:1` | — | scanned | 2 (1 fixable) | 5 (1 fixable) |" in result.stdout
    assert "| CRITICAL | CVE-2000-0009 | e | 1 | 2 | fixed |  |" in result.stdout


def test_trivy_version_recorded(tmp_path: Path) -> None:
    with_version = write_json(tmp_path, "status.json", STATUS_REPORT)
    without_version = write_json(tmp_path, "os.json", OS_RESULT_ONLY)

    versioned = stdout_json(invoke(with_version, "--format", "json"))
    unversioned = stdout_json(invoke(without_version, "--format", "json"))

    assert versioned["scanner"]["trivy_version"] == "0.76.0"
    assert versioned["images"][0]["trivy_version"] == "0.76.0"
    assert unversioned["scanner"]["trivy_version"] is None


def test_old_layout_rejected_on_stderr(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        "old.json",
        [{"Target": "example/app:1.0 (alpine 3.10.2)", "Type": "alpine", "Vulnerabilities": None}],
    )

    result = invoke(path, "--format", "json")
    lines = result.stderr.splitlines()

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert len(lines) == 2
    assert lines[0] == (
        f"error: unsupported Trivy JSON in {path}: a top-level array with no SchemaVersion "
        "(the layout of Trivy < 0.20)"
    )
    assert lines[1].startswith("hint: regenerate it with `trivy image --format json`")
    assert "Traceback" not in result.output


def test_bad_file_stops_whole_report(tmp_path: Path) -> None:
    good = write_json(tmp_path, "status.json", STATUS_REPORT)
    missing_field = {
        "SchemaVersion": 2,
        "Results": [
            {"Target": "t", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "HIGH"}]}
        ],
    }
    bad = write_json(tmp_path, "bad.json", missing_field)

    result = invoke(good, bad)

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert (
        f"error: invalid Trivy JSON in {bad}: Results[0].Vulnerabilities[0] has no PkgName"
        in result.stderr
    )


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"

    result = invoke(path)

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert f"error: cannot read Trivy report {path}: No such file or directory" in result.stderr


def test_invalid_severity_is_usage_error(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--severity", "CRITICAL,HIHG")

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert (
        "error: invalid severity 'HIHG' in --severity / HULLCHECK_SEVERITY 'CRITICAL,HIHG'"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("threshold", "extra", "expected"),
    [
        ("HIGH", (), ExitCode.FINDINGS),
        ("critical", (), ExitCode.FINDINGS),
        ("CRITICAL", ("--hide-unfixed",), ExitCode.FINDINGS),
    ],
)
def test_fail_on_reached(
    tmp_path: Path, threshold: str, extra: tuple[str, ...], expected: ExitCode
) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--format", "json", "--fail-on", threshold, *extra)

    assert result.exit_code == expected
    assert stdout_json(result)["images"][0]["image"] == "example/status:1"


def test_fail_on_not_reached(tmp_path: Path) -> None:
    high_only = {
        "SchemaVersion": 2,
        "ArtifactName": "example/high:1",
        "Results": [
            {
                "Target": "t",
                "Class": "os-pkgs",
                "Vulnerabilities": [vulnerability("CVE-1", "a", "HIGH")],
            }
        ],
    }
    path = write_json(tmp_path, "high.json", high_only)

    critical = invoke(path, "--fail-on", "CRITICAL")
    high_hidden = invoke(path, "--fail-on", "HIGH", "--hide-unfixed")

    assert critical.exit_code == ExitCode.SUCCESS
    assert high_hidden.exit_code == ExitCode.SUCCESS


def test_fail_on_rejects_unknown_name(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)

    result = invoke(path, "--fail-on", "SEVERE")

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""


@pytest.mark.parametrize("report_format", ["json", "markdown", "table"])
def test_output_file_written(tmp_path: Path, report_format: str) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)
    output = tmp_path / f"report.{report_format}"

    result = invoke(path, "--format", report_format, "--output", output)
    text = output.read_text(encoding="utf-8")

    assert result.exit_code == ExitCode.SUCCESS
    assert result.stdout == ""
    assert "example/status:1" in text
    assert "2 (1 fixable)" in text or report_format == "json"
    assert "\x1b[" not in text


def test_output_into_missing_directory(tmp_path: Path) -> None:
    path = write_json(tmp_path, "status.json", STATUS_REPORT)
    output = tmp_path / "missing" / "report.json"

    result = invoke(path, "--format", "json", "--output", output)

    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert f"error: cannot write {output}: No such file or directory" in result.stderr
    assert f"hint: create the directory {output.parent} first" in result.stderr


def test_standard_input_as_dash() -> None:
    result = invoke("-", "--format", "json", stdin=json.dumps(STATUS_REPORT))

    entry = stdout_json(result)["images"][0]

    assert result.exit_code == ExitCode.SUCCESS
    assert entry["severity_counts"]["CRITICAL"] == 2


def test_invalid_json_on_standard_input() -> None:
    result = invoke("-", stdin='{"SchemaVersion": 2,')

    assert result.exit_code == ExitCode.USAGE
    assert "error: invalid JSON in <stdin>" in result.stderr


def test_kev_and_epss_in_json(tmp_path: Path) -> None:
    feeds = Path(__file__).resolve().parents[1] / "enrichment" / "fixtures"
    document = {
        "SchemaVersion": 2,
        "ArtifactName": "example/app:1",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.7"}},
        "Results": [
            {
                "Target": "example/app:1 (debian 12.7)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    vulnerability("CVE-2023-4911", "libc6", "HIGH", FixedVersion="2.36-9+deb12u3"),
                    vulnerability("CVE-2023-2650", "libssl3", "MEDIUM"),
                ],
            }
        ],
    }
    path = write_json(tmp_path, "app.json", document)

    result = invoke(
        path,
        "--format",
        "json",
        "--severity",
        "CRITICAL,HIGH,MEDIUM",
        "--kev-url",
        feeds / "known_exploited_vulnerabilities.json",
        "--epss-url",
        feeds / "epss_scores.csv",
        "--risks-file",
        tmp_path / "no-risks.yaml",
    )

    assert result.exit_code == 0, result.stderr
    findings = {f["id"]: f for f in stdout_json(result)["images"][0]["findings"]}
    assert findings["CVE-2023-4911"]["kev"] is True
    assert findings["CVE-2023-4911"]["priority"] == 1
    assert findings["CVE-2023-2650"]["kev"] is False
    assert findings["CVE-2023-2650"]["epss"] == 0.00897
    assert findings["CVE-2023-2650"]["accepted"] is False
