"""The risk register file: validation, appending, duplicates, expiry and invalid files."""

from __future__ import annotations

import stat
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from risk_samples import TODAY

from hullcheck.analysis.models import Acceptance, VexJustification
from hullcheck.analysis.risks import (
    RiskRegisterError,
    RiskStatus,
    new_acceptance,
    normalise_vulnerability_id,
    status_of,
)
from hullcheck.analysis.risks_file import add_to_register, default_risks_path, load_register

LATER = TODAY + timedelta(days=90)


def _new(vulnerability_id: str = "CVE-2023-45853", **values: object) -> Acceptance:
    arguments: dict[str, object] = {
        "reason": "minizip is not used by this image",
        "expires": LATER.isoformat(),
        "today": TODAY,
    }
    arguments.update(values)
    return new_acceptance(vulnerability_id, **arguments)  # type: ignore[arg-type]


def test_add_then_load(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    entry = _new(image="postgres:16", package="zlib1g", accepted_by="alice")

    add_to_register(path, entry, today=TODAY)

    assert load_register(path) == [entry]
    assert entry.image == "docker.io/library/postgres:16"
    assert entry.accepted_on == TODAY


def test_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"

    add_to_register(path, _new(), today=TODAY)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"

    add_to_register(path, _new(accepted_by="alice"), today=TODAY)

    text = path.read_text()
    assert text.startswith("# hullcheck risk register")
    assert "version: 1\nrisks:\n- id: CVE-2023-45853\n" in text
    assert f"  expires: {LATER.isoformat()}\n" in text
    assert "  accepted_by: alice\n" in text


def test_append_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    original = (
        "# Reviewed by the platform team.\n"
        "version: 1\n"
        "risks:\n"
        "  # Debian will not fix this one.\n"
        "  - id: CVE-2023-45853\n"
        "    reason: minizip is not used   # checked 2026-02\n"
        "    expires: 2026-12-31\n"
    )
    path.write_text(original)

    add_to_register(path, _new("CVE-2023-4911", reason="no setuid binaries"), today=TODAY)

    text = path.read_text()
    assert text.startswith(original)
    assert text[len(original) :].startswith("  - id: CVE-2023-4911\n    reason: no setuid")
    assert [entry.vulnerability_id for entry in load_register(path)] == [
        "CVE-2023-45853",
        "CVE-2023-4911",
    ]


def test_append_before_later_key(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text(
        "risks:\n- id: CVE-2023-45853\n  reason: r\n  expires: 2026-12-31\n"
        "# trailing comment\nversion: 1\n"
    )

    add_to_register(path, _new("CVE-2023-4911"), today=TODAY)

    text = path.read_text()
    assert text.endswith("# trailing comment\nversion: 1\n")
    assert len(load_register(path)) == 2


def test_append_after_block_scalar(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    original = (
        "risks:\n- id: CVE-2023-45853\n  expires: 2026-12-31\n  reason: |\n"
        "    minizip is not used.\n    Debian will not fix it.\n"
    )
    path.write_text(original + "# end of list\n")

    add_to_register(path, _new("CVE-2023-4911"), today=TODAY)

    text = path.read_text()
    assert text.startswith(original + "- id: CVE-2023-4911\n")
    assert text.endswith("# end of list\n")
    assert load_register(path)[0].reason == "minizip is not used.\nDebian will not fix it."


def test_empty_flow_list_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text("version: 1\nrisks: []\n")

    add_to_register(path, _new(), today=TODAY)

    assert [entry.vulnerability_id for entry in load_register(path)] == ["CVE-2023-45853"]


def test_duplicate_rejected(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    add_to_register(path, _new(image="postgres"), today=TODAY)
    before = path.read_text()

    with pytest.raises(RiskRegisterError, match=r"already accepted .* \(active\)"):
        add_to_register(
            path, _new("cve-2023-45853", image="docker.io/library/postgres"), today=TODAY
        )
    assert path.read_text() == before


def test_expired_duplicate_rejected(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    add_to_register(path, _new(), today=TODAY)

    with pytest.raises(RiskRegisterError, match=r"\(expired\)") as raised:
        add_to_register(path, _new(), today=LATER)
    assert raised.value.hint == "edit that entry's expires and reason to renew or change it"


def test_other_scope_not_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    add_to_register(path, _new(), today=TODAY)
    add_to_register(path, _new(image="postgres:16"), today=TODAY)
    add_to_register(path, _new(image="postgres:17"), today=TODAY)
    add_to_register(path, _new(package="zlib1g"), today=TODAY)

    assert len(load_register(path)) == 4


def test_concurrent_adds_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    errors: list[BaseException] = []

    def add(number: int) -> None:
        try:
            add_to_register(path, _new(f"CVE-2024-{number:04d}"), today=TODAY)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=add, args=(number,)) for number in range(1, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(load_register(path)) == 12


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_register(tmp_path / "absent.yaml") == []


def test_missing_directory_reported(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "risks.yaml"

    with pytest.raises(RiskRegisterError, match="cannot create the lock file"):
        add_to_register(path, _new(), today=TODAY)


def test_status_active_then_expired() -> None:
    entry = _new()

    assert status_of(entry, entry.expires - timedelta(days=1)) is RiskStatus.ACTIVE
    assert status_of(entry, entry.expires) is RiskStatus.EXPIRED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CVE-2023-4911", "CVE-2023-4911"),
        (" cve-2023-45853 ", "CVE-2023-45853"),
        ("CVE-2021-1234567", "CVE-2021-1234567"),
        ("GHSA-JFH8-C2JP-5V3Q", "GHSA-jfh8-c2jp-5v3q"),
        ("DLA-3530-1", "DLA-3530-1"),
        ("RUSTSEC-2023-0044", "RUSTSEC-2023-0044"),
        ("TEMP-0841856-B18BAF", "TEMP-0841856-B18BAF"),
        ("RHSA-2023:1234", "RHSA-2023:1234"),
    ],
)
def test_valid_ids_normalised(text: str, expected: str) -> None:
    assert normalise_vulnerability_id(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CVE-23-4911", "invalid CVE ID"),
        ("CVE-2023-491", "invalid CVE ID"),
        ("CVE-2023-4911x", "invalid CVE ID"),
        ("GHSA-jfh8-c2jp", "invalid GitHub advisory ID"),
        ("", "invalid vulnerability ID"),
        ("4911", "invalid vulnerability ID"),
        ("zlib bug", "invalid vulnerability ID"),
        ("X-" + "1" * 120, "longer than 100 characters"),
    ],
)
def test_invalid_ids_rejected(text: str, message: str) -> None:
    with pytest.raises(RiskRegisterError, match=message):
        normalise_vulnerability_id(text)


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        (TODAY.isoformat(), "is not in the future"),
        ((TODAY - timedelta(days=1)).isoformat(), "is not in the future"),
        ("2026-02-30", "invalid expiry date"),
        ("20261231", "invalid expiry date"),
        ("31.12.2026", "invalid expiry date"),
        ("next year", "invalid expiry date"),
    ],
)
def test_invalid_expiry_rejected(expires: str, message: str) -> None:
    with pytest.raises(RiskRegisterError, match=message):
        _new(expires=expires)


def test_tomorrow_is_accepted() -> None:
    entry = _new(expires=(TODAY + timedelta(days=1)).isoformat())

    assert entry.expires == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reason": "   "}, "the reason is empty"),
        ({"image": "Postgres:16"}, "invalid image reference"),
        ({"image": "postgres:${TAG}"}, "invalid image reference"),
        ({"package": "zlib 1g"}, "invalid package name"),
        ({"package": ""}, "invalid package name"),
        ({"package": "pkg:deb"}, "invalid package URL"),
    ],
)
def test_invalid_values_rejected(values: dict[str, str], message: str) -> None:
    with pytest.raises(RiskRegisterError, match=message):
        _new(**values)


def test_justification_recorded(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    entry = _new(justification=VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH)

    add_to_register(path, entry, today=TODAY)

    assert "justification: vulnerable_code_not_in_execute_path" in path.read_text()
    assert load_register(path)[0].justification is entry.justification


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("risks: [unclosed\n", "invalid YAML"),
        ("- id: CVE-2023-4911\n", "must be a mapping with a 'risks' list"),
        ("version: 2\nrisks: []\n", "has version 2"),
        ("owner: me\nrisks: []\n", "unknown key owner"),
        ("risks:\n- just text\n", "entry 1 .* is not a mapping"),
        (
            "risks:\n- id: CVE-2023-4911\n  reason: r\n  expire: 2026-12-31\n",
            r"unknown key expire in entry 1 \(CVE-2023-4911\)",
        ),
        ("risks:\n- id: CVE-2023-4911\n  reason: r\n", "entry 1 .*'expires' is missing"),
        ("risks:\n- id: CVE-2023-4911\n  expires: 2026-12-31\n", "'reason' is missing"),
        (
            "risks:\n- id: CVE-2023-4911\n  reason: r\n  expires: soon\n",
            "invalid 'expires' date 'soon'",
        ),
        ("risks:\n- id: CVE-2023-4911\n  reason: r\n  expires: 7\n", "'expires' is not a date"),
        (
            "risks:\n- id: CVE-2023-4911\n  reason: r\n  expires: 2026-12-31\n  image: UP\n",
            "invalid image reference",
        ),
        (
            "risks:\n- id: CVE-2023-4911\n  reason: r\n  expires: 2026-12-31\n"
            "  justification: trust_me\n",
            "invalid justification 'trust_me'",
        ),
    ],
)
def test_invalid_file_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text(text)

    with pytest.raises(RiskRegisterError, match=message) as raised:
        load_register(path)
    assert str(path) in raised.value.message


def test_expired_entries_load(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text("risks:\n- id: CVE-2023-4911\n  reason: r\n  expires: '2020-01-01'\n")

    entries = load_register(path)

    assert entries[0].expires == date(2020, 1, 1)
    assert status_of(entries[0], TODAY) is RiskStatus.EXPIRED


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HULLCHECK_RISKS_FILE", str(tmp_path / "team-risks.yaml"))

    assert default_risks_path() == tmp_path / "team-risks.yaml"


def test_default_path_in_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HULLCHECK_RISKS_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    assert default_risks_path() == tmp_path / "config" / "hullcheck" / "risks.yaml"
