"""Update policies decide from the findings an update adds, never from what it removes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hullcheck.analysis.delta import finding_delta
from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.deployment.models import Policy
from hullcheck.deployment.policy import (
    decide,
    enabled_by_labels,
    image_major_version,
    policy_from_labels,
    stateful_major_hold,
    too_young,
)
from hullcheck.discovery.references import parse_reference


def finding(vulnerability_id: str, severity: Severity, *, fixed: str | None = None) -> Finding:
    package = AffectedPackage(name="pkg", installed_version="1", fixed_version=fixed)
    return Finding(vulnerability_id=vulnerability_id, severity=severity, packages=(package,))


def image(*findings: Finding) -> ImageFindings:
    return ImageFindings(artifact_name="example", schema_version=2, findings=findings)


OLD = image(finding("CVE-1", Severity.HIGH), finding("CVE-2", Severity.CRITICAL))


def test_delta_splits_ids() -> None:
    new = image(finding("CVE-2", Severity.CRITICAL), finding("CVE-3", Severity.LOW))

    delta = finding_delta(OLD, new)

    assert delta.fixed == ["CVE-1"]
    assert delta.new == ["CVE-3"]
    assert delta.open == ["CVE-2"]


def test_strict_holds_new_critical() -> None:
    new = image(*OLD.findings, finding("CVE-9", Severity.CRITICAL))

    decision = decide(Policy.STRICT, OLD, new)

    assert not decision.deploy
    assert "CVE-9" in decision.reason


def test_strict_holds_new_known_exploited() -> None:
    new = image(*OLD.findings, finding("CVE-7", Severity.MEDIUM))

    decision = decide(Policy.STRICT, OLD, new, known_exploited=frozenset({"CVE-7"}))

    assert not decision.deploy
    assert "known-exploited CVE-7" in decision.reason


def test_strict_allows_removal_only() -> None:
    new = image(finding("CVE-2", Severity.CRITICAL))

    decision = decide(Policy.STRICT, OLD, new)

    assert decision.deploy


def test_strict_ignores_still_open_critical() -> None:
    decision = decide(Policy.STRICT, OLD, OLD)

    assert decision.deploy


def test_availability_escalates_fixable_critical() -> None:
    new = image(*OLD.findings, finding("CVE-8", Severity.CRITICAL, fixed="2"))

    decision = decide(Policy.AVAILABILITY, OLD, new)

    assert decision.deploy
    assert decision.escalations == ("brings new fixable CRITICAL CVE-8",)


def test_availability_no_escalation_unfixed() -> None:
    new = image(*OLD.findings, finding("CVE-8", Severity.CRITICAL))

    decision = decide(Policy.AVAILABILITY, OLD, new)

    assert decision.deploy
    assert decision.escalations == ()


def test_notify_only_never_deploys() -> None:
    decision = decide(Policy.NOTIFY_ONLY, OLD, image())

    assert not decision.deploy


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, Policy.AVAILABILITY),
        ({"hullcheck.policy": "strict"}, Policy.STRICT),
        ({"hullcheck.policy": " Notify-Only "}, Policy.NOTIFY_ONLY),
    ],
)
def test_policy_label(labels: dict[str, str], expected: Policy) -> None:
    assert policy_from_labels(labels, Policy.AVAILABILITY) is expected


def test_policy_label_invalid_named() -> None:
    with pytest.raises(ValueError, match="'careful'"):
        policy_from_labels({"hullcheck.policy": "careful"}, Policy.AVAILABILITY)


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("0", False), ("true", True), ("yes", True)]
)
def test_enable_label(value: str, expected: bool) -> None:
    assert enabled_by_labels({"hullcheck.enable": value}) is expected


def test_major_version_from_env() -> None:
    assert image_major_version({}, ["PATH=/bin", "PG_MAJOR=16", "PG_VERSION=16.4"]) == "16"


def test_major_version_from_label() -> None:
    assert image_major_version({"org.opencontainers.image.version": "11.4.2"}, []) == "11"


def test_stateful_major_jump_held() -> None:
    reason = stateful_major_hold(parse_reference("postgres"), "16", "17")

    assert reason is not None
    assert "16 to 17" in reason


def test_stateful_same_major_allowed() -> None:
    assert stateful_major_hold(parse_reference("docker.io/library/mariadb:11"), "11", "11") is None


def test_stateful_unknown_major_held() -> None:
    assert stateful_major_hold(parse_reference("mongo:latest"), None, "7") is not None


def test_stateless_image_never_held() -> None:
    assert stateful_major_hold(parse_reference("nginx:latest"), "1", "2") is None


def test_minimum_age() -> None:
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)

    assert too_young(now - timedelta(hours=2), timedelta(hours=24), now) is not None
    assert too_young(now - timedelta(hours=30), timedelta(hours=24), now) is None
    assert too_young(now, timedelta(0), now) is None
