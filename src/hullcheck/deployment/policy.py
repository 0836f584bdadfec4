"""Decide whether an available update is deployed, held, or deployed with an escalation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hullcheck.analysis.delta import new_findings
from hullcheck.analysis.models import ImageFindings, Severity
from hullcheck.deployment.models import Policy
from hullcheck.discovery.models import ImageReference

ENABLE_LABEL = "hullcheck.enable"
POLICY_LABEL = "hullcheck.policy"

STATEFUL_REPOSITORIES = frozenset(
    {
        "postgres",
        "postgis",
        "mariadb",
        "mysql",
        "mongo",
        "mongodb",
        "redis",
        "valkey",
        "elasticsearch",
        "opensearch",
        "influxdb",
        "couchdb",
        "cassandra",
        "neo4j",
        "clickhouse-server",
        "rabbitmq",
    }
)
"""Images whose data files a new major version may migrate or refuse to read."""

# Official images record their version in image labels first, then in environment variables.
VERSION_LABELS = ("org.opencontainers.image.version",)
VERSION_ENV_PREFIXES = (
    "PG",
    "POSTGRES",
    "MARIADB",
    "MYSQL",
    "MONGO",
    "REDIS",
    "VALKEY",
    "ES",
    "INFLUXDB",
    "RABBITMQ",
)

_MAJOR = re.compile(r"^v?(\d+)")


@dataclass(frozen=True)
class Decision:
    deploy: bool
    reason: str
    escalations: tuple[str, ...] = ()


def decide(
    policy: Policy,
    running: ImageFindings,
    candidate: ImageFindings,
    *,
    known_exploited: frozenset[str] = frozenset(),
) -> Decision:
    """Apply ``policy`` to the findings the candidate adds over the running image."""
    # Accepted risks stay in the report but do not hold or escalate an update.
    added = [finding for finding in new_findings(running, candidate) if finding.accepted is None]
    new_critical = sorted(f.vulnerability_id for f in added if f.severity is Severity.CRITICAL)
    new_fixable_critical = sorted(
        f.vulnerability_id for f in added if f.severity is Severity.CRITICAL and f.fixable
    )
    new_exploited = sorted(
        f.vulnerability_id for f in added if f.vulnerability_id in known_exploited
    )

    if policy is Policy.NOTIFY_ONLY:
        return Decision(False, "notify-only policy: update available, not applied")

    if policy is Policy.STRICT:
        blockers = []
        if new_exploited:
            blockers.append(f"known-exploited {', '.join(new_exploited)}")
        if new_critical:
            blockers.append(f"new CRITICAL {', '.join(new_critical)}")
        if blockers:
            return Decision(False, f"strict policy: the update brings {'; '.join(blockers)}")
        return Decision(True, "strict policy, no new CRITICAL or known-exploited findings")

    escalations = []
    if new_exploited:
        escalations.append(f"brings known-exploited {', '.join(new_exploited)}")
    if new_fixable_critical:
        escalations.append(f"brings new fixable CRITICAL {', '.join(new_fixable_critical)}")
    return Decision(True, "availability policy", tuple(escalations))


def policy_from_labels(labels: Mapping[str, str], default: Policy) -> Policy:
    """Return the policy set by the ``hullcheck.policy`` label, else ``default``."""
    value = labels.get(POLICY_LABEL)
    if value is None:
        return default
    try:
        return Policy(value.strip().lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Policy)
        raise ValueError(f"invalid {POLICY_LABEL} label {value!r}: use one of {allowed}") from None


def enabled_by_labels(labels: Mapping[str, str]) -> bool:
    """False when the ``hullcheck.enable`` label turns the service off."""
    return labels.get(ENABLE_LABEL, "true").strip().lower() not in {"false", "0", "no", "off"}


def is_stateful(reference: ImageReference) -> bool:
    return reference.repository.rsplit("/", 1)[-1] in STATEFUL_REPOSITORIES


def image_major_version(labels: Mapping[str, str], env: Sequence[str]) -> str | None:
    """Find the major version an image declares in its labels or environment, if any."""
    for label in VERSION_LABELS:
        match = _MAJOR.match(labels.get(label, ""))
        if match:
            return match.group(1)
    variables = dict(item.split("=", 1) for item in env if "=" in item)
    for prefix in VERSION_ENV_PREFIXES:
        for suffix in ("_MAJOR", "_VERSION"):
            match = _MAJOR.match(variables.get(prefix + suffix, ""))
            if match:
                return match.group(1)
    return None


def stateful_major_hold(
    reference: ImageReference,
    running_major: str | None,
    candidate_major: str | None,
) -> str | None:
    """Return why a stateful image's update is held, or None when it may go ahead.

    A floating tag (``latest``, ``16`` or ``alpine``) of a database must never move to a new
    major version by itself, since the new server may not read the old data files.
    """
    if not is_stateful(reference):
        return None
    name = reference.repository.rsplit("/", 1)[-1]
    if running_major is None or candidate_major is None:
        return (
            f"{name} is a stateful image and hullcheck cannot tell whether the new image keeps "
            f"the major version; pin a major tag such as {name}:<major> or set {POLICY_LABEL}"
        )
    if running_major != candidate_major:
        return (
            f"{name} tag {reference.effective_tag} moved from major version {running_major} to "
            f"{candidate_major}; upgrade deliberately by changing the tag after a backup"
        )
    return None


def too_young(created: datetime | None, minimum_age: timedelta, now: datetime) -> str | None:
    """Return why a candidate is held for its age, or None when it is old enough."""
    if minimum_age <= timedelta(0):
        return None
    if created is None:
        return "the candidate image has no creation time, so its minimum age cannot be checked"
    age = now - created
    if age < minimum_age:
        hours = age.total_seconds() / 3600
        return f"the candidate image is {hours:.1f} h old; the minimum age is {minimum_age.total_seconds() / 3600:g} h"
    return None
