"""Runs written for the notification tests: scans of many images and update runs."""

from __future__ import annotations

from datetime import UTC, datetime

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.deployment.models import FindingDelta, Policy, ServiceUpdate, UpdateAction
from hullcheck.registry import HUB_RATE_LIMIT_REASON
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import FailureClass, ImageScan, ScanStatus

STARTED = datetime(2025, 3, 2, 4, 0, tzinfo=UTC)
FINISHED = datetime(2025, 3, 2, 4, 7, tzinfo=UTC)


def finding(
    vulnerability_id: str,
    severity: Severity,
    *,
    fixed: str | None = None,
    package: str = "openssl",
    title: str | None = None,
) -> Finding:
    return Finding(
        vulnerability_id=vulnerability_id,
        severity=severity,
        packages=(
            AffectedPackage(
                name=package,
                installed_version="3.0.11-1",
                fixed_version=fixed,
                status="fixed" if fixed else "affected",
            ),
        ),
        title=title,
    )


def image_id(number: int) -> str:
    return "sha256:" + f"{number:064x}"


def scanned(
    image: str, findings: list[Finding], *, services: tuple[str, ...] = (), number: int = 1
) -> ImageScan:
    return ImageScan(
        image=image,
        image_id=image_id(number),
        services=services,
        status=ScanStatus.SCANNED,
        findings=ImageFindings(
            artifact_name=image, schema_version=2, os_family="debian", findings=tuple(findings)
        ),
    )


def failed(image: str, reason: str, *, services: tuple[str, ...] = ()) -> ImageScan:
    return ImageScan(
        image=image,
        services=services,
        status=ScanStatus.FAILED,
        failure=FailureClass.TIMEOUT,
        reason=reason,
    )


def many_images_run(count: int, *, run_id: int = 7) -> RunRecord:
    """A scan run of ``count`` images, each with one fixable CRITICAL and two HIGH IDs."""
    images = []
    for number in range(1, count + 1):
        images.append(
            scanned(
                f"registry.example.net/team/service-{number:02d}:1.{number}.0",
                [
                    finding(f"CVE-2024-{number:04d}1", Severity.CRITICAL, fixed="3.0.13-1"),
                    finding(f"CVE-2024-{number:04d}2", Severity.HIGH),
                    finding(f"CVE-2024-{number:04d}3", Severity.HIGH, fixed="3.0.13-1"),
                ],
                services=(f"stack/service-{number:02d}",),
                number=number,
            )
        )
    return RunRecord(
        run_id=run_id,
        command="scan",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.COMPLETE,
        images=images,
    )


def update(
    service: str,
    action: UpdateAction,
    reason: str,
    *,
    image: str = "docker.io/example/app:4.30",
    remote_digest: str | None = None,
    delta: FindingDelta | None = None,
    escalations: list[str] | None = None,
    running: int | None = None,
    candidate: int | None = None,
) -> ServiceUpdate:
    return ServiceUpdate(
        project="stack",
        service=service,
        image=image,
        action=action,
        reason=reason,
        policy=Policy.AVAILABILITY,
        escalations=escalations or [],
        remote_digest=remote_digest,
        delta=delta,
        running_image_id=image_id(running) if running else None,
        candidate_image_id=image_id(candidate) if candidate else None,
    )


DIGEST_1 = "sha256:" + "1" * 64
DIGEST_2 = "sha256:" + "2" * 64


def digest_run(digest: str = DIGEST_2, *, run_id: int = 11) -> RunRecord:
    """A notify-only update run: ``example/app:4.30`` now resolves to ``digest``."""
    return RunRecord(
        run_id=run_id,
        command="update",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.COMPLETE,
        updates=[
            update(
                "app",
                UpdateAction.HELD,
                "notify-only policy: update available, not applied",
                remote_digest=digest,
            )
        ],
    )


def mixed_update_run(*, run_id: int = 12) -> RunRecord:
    """An update run with every kind of service result and a rate-limited Docker Hub."""
    running = scanned(
        "docker.io/example/web:2.1 (running)",
        [
            finding("CVE-2024-1000", Severity.CRITICAL, fixed="2"),
            finding("CVE-2024-1001", Severity.HIGH),
        ],
        services=("stack/web",),
        number=21,
    )
    candidate = scanned(
        "docker.io/example/web:2.1 (candidate)",
        [finding("CVE-2024-1001", Severity.HIGH), finding("CVE-2024-2000", Severity.CRITICAL)],
        services=("stack/web",),
        number=22,
    )
    updates = [
        update(
            "web",
            UpdateAction.UPDATED,
            f"availability policy: now on {DIGEST_2}",
            image="docker.io/example/web:2.1",
            remote_digest=DIGEST_2,
            delta=FindingDelta(
                fixed=["CVE-2024-1000"], new=["CVE-2024-2000"], open=["CVE-2024-1001"]
            ),
            escalations=["new CRITICAL CVE-2024-2000 with a fix available"],
            running=21,
            candidate=22,
        ),
        update(
            "nginx",
            UpdateAction.FAILED,
            "update failed, kept the running version: manifest unknown",
            image="docker.io/library/nginx:1.31.0-alpine-perl",
            remote_digest=DIGEST_1,
        ),
        update(
            "db",
            UpdateAction.FAILED,
            "check failed (auth): HEAD ghcr.io/example/db:16: HTTP 401",
            image="ghcr.io/example/db:16",
        ),
        update(
            "cache", UpdateAction.FAILED, HUB_RATE_LIMIT_REASON, image="docker.io/library/redis:7"
        ),
        update(
            "queue",
            UpdateAction.FAILED,
            HUB_RATE_LIMIT_REASON,
            image="docker.io/library/rabbitmq:3",
        ),
        update(
            "proxy",
            UpdateAction.FAILED,
            "check failed (rate limit): HEAD registry-1.docker.io/library/traefik:3: HTTP 429 Too Many Requests",
            image="docker.io/library/traefik:3",
        ),
        update(
            "worker",
            UpdateAction.UP_TO_DATE,
            "tag 4.30 still resolves to it",
            remote_digest=DIGEST_1,
        ),
        update("builder", UpdateAction.LOCAL_BUILD, "locally built: no registry check, no pull"),
    ]
    return RunRecord(
        run_id=run_id,
        command="update",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.PARTIAL,
        images=[running, candidate],
        updates=updates,
    )
