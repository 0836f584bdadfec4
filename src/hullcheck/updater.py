"""The update pipeline: check registries, pull what changed, scan old and new, apply the
policy, recreate through Compose and roll back on failure.

No UI here: progress goes to a callback, results to ``ServiceUpdate`` objects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import docker
import docker.errors

from hullcheck.analysis.delta import finding_delta
from hullcheck.analysis.models import ImageFindings
from hullcheck.deployment.models import Policy, ServiceUpdate, UpdateAction
from hullcheck.deployment.policy import (
    Decision,
    decide,
    enabled_by_labels,
    image_major_version,
    policy_from_labels,
    stateful_major_hold,
    too_young,
)
from hullcheck.deployment.recreate import RecreateStatus, recreate_service
from hullcheck.deployment.target import target_from_container
from hullcheck.discovery.models import ComposeProject, DiscoveryResult, ImageReference, ServiceImage
from hullcheck.engine import EngineError, pull_image
from hullcheck.errors import HullcheckError
from hullcheck.orchestrator import ProgressCallback, ProgressEvent, RunStore, Scanner, Stage
from hullcheck.registry import RegistryClient, UpdateCheck, UpdateChecker, UpdateState
from hullcheck.registry.tags import find_newer_tags
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import ImageScan, ScannerError, ScannerInfo, ScanSource, ScanStatus
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import ImageScanError

logger = logging.getLogger(__name__)

CHECK_WORKERS = 4
"""Registry checks in flight at once; a check waits mostly on the network."""

PULL_WORKERS = 3
"""Image pulls at once. The engine fetches each pull's layers in parallel already."""


@dataclass
class UpdateOptions:
    policy: Policy = Policy.AVAILABILITY
    dry_run: bool = False
    minimum_age: timedelta = timedelta(0)
    health_timeout: float = 120.0
    stable_seconds: float = 10.0
    known_exploited: frozenset[str] = frozenset()
    compose_env: dict[str, str] | None = None
    """Environment for Compose commands (DOCKER_HOST and the like)."""
    enrich: Callable[[ImageScan], ImageScan] | None = None
    """Adds KEV, EPSS and accepted-risk marks to each scan result."""
    feeds: str | None = None
    """Status of the KEV and EPSS feeds, stored with the run."""
    reuse: ScanReuse | None = None
    """Earlier results and stored SBOMs, so unchanged images are not analysed again."""
    tags_client: RegistryClient | None = None
    """When set, each versioned tag is also checked for newer tags of its series."""


@dataclass
class _Candidate:
    """One image reference with an update available, shared by the services that use it."""

    reference: ImageReference
    check: UpdateCheck
    services: list[ServiceImage] = field(default_factory=list)
    image_id: str | None = None
    findings: ImageFindings | None = None
    scan_error: str | None = None
    newer_tags: list[str] = field(default_factory=list)


def run_update(
    discovery: DiscoveryResult,
    *,
    client: docker.DockerClient,
    checker: UpdateChecker,
    scanner: Scanner,
    options: UpdateOptions,
    store: RunStore | None = None,
    progress: ProgressCallback | None = None,
) -> RunRecord:
    """Update every deployed service whose tag moved, as the policy allows; record the run."""
    notify = progress or (lambda event: None)
    record = RunRecord(
        command="update --dry-run" if options.dry_run else "update",
        started_at=datetime.now(UTC),
        problems=discovery.all_problems(),
        feeds=options.feeds,
    )
    record.run_id = store.begin_run(record, pid=os.getpid()) if store else None
    try:
        results, candidates = _check_services(discovery, client, checker, options, notify)
        if candidates and not options.dry_run:
            _pull_and_scan(
                candidates, record, client, scanner, store, notify, options.enrich, options.reuse
            )
            for candidate in candidates:
                for service in candidate.services:
                    results.append(_apply(service, candidate, record, client, options, notify))
        elif candidates:
            for candidate in candidates:
                results.extend(
                    _dry_run_result(service, candidate, options) for service in candidate.services
                )

        record.updates = _in_discovery_order(results, discovery)
        if store and record.run_id is not None:
            store.save_updates(record.run_id, record.updates)
        status = RunStatus.PARTIAL if _any_failed(record) else RunStatus.COMPLETE
        _finish(record, store, status)
        notify(ProgressEvent(Stage.DONE, "update"))
        return record
    except BaseException as error:
        record.error = record.error or f"interrupted: {type(error).__name__}"
        _finish(record, store, RunStatus.INTERRUPTED)
        raise


def _check_services(
    discovery: DiscoveryResult,
    client: docker.DockerClient,
    checker: UpdateChecker,
    options: UpdateOptions,
    notify: ProgressCallback,
) -> tuple[list[ServiceUpdate], list[_Candidate]]:
    """Sort services into final results and candidates, with one registry check per image."""
    projects = {project.name: project for project in discovery.projects}
    results: list[ServiceUpdate | None] = []
    candidates: dict[str, _Candidate] = {}
    eligible = [s for s in discovery.services if s.active]

    # The services to check, in order, each with its policy and its slot in ``results``.
    pending: list[tuple[int, ServiceImage, Policy]] = []
    first_of: dict[str, ServiceImage] = {}
    for service in eligible:
        try:
            policy = policy_from_labels(service.labels, options.policy)
        except ValueError as error:
            results.append(_result(service, UpdateAction.FAILED, str(error), options.policy))
            continue
        early = _early_result(service, projects.get(service.project), policy)
        if early is not None:
            results.append(early)
            continue
        assert service.image is not None  # _early_result handles services without a reference.
        first_of.setdefault(service.image.normalized, service)
        pending.append((len(results), service, policy))
        results.append(None)

    checks = _check_images(list(first_of.values()), client, checker, options, notify)
    for slot, service, policy in pending:
        reference = service.image
        assert reference is not None
        key = reference.normalized
        check, newer = checks[key]
        if check.state is UpdateState.UPDATE_AVAILABLE:
            candidate = candidates.setdefault(
                key, _Candidate(reference=reference, check=check, newer_tags=newer)
            )
            candidate.services.append(service)
            continue
        action = {
            UpdateState.UP_TO_DATE: UpdateAction.UP_TO_DATE,
            UpdateState.PINNED: UpdateAction.PINNED,
            UpdateState.LOCAL_BUILD: UpdateAction.LOCAL_BUILD,
        }.get(check.state, UpdateAction.FAILED)
        update = _result(service, action, check.reason, policy)
        update.remote_digest = check.remote_digest
        update.newer_tags = newer
        results[slot] = update
    return [result for result in results if result is not None], list(candidates.values())


def _check_images(
    services: list[ServiceImage],
    client: docker.DockerClient,
    checker: UpdateChecker,
    options: UpdateOptions,
    notify: ProgressCallback,
) -> dict[str, tuple[UpdateCheck, list[str]]]:
    """Check each image once, a few at a time: every check waits mostly on the registry.

    ``services`` contains one service per image, whose running image and labels are used
    for every service of that image.
    """

    def check(service: ServiceImage) -> tuple[UpdateCheck, list[str]]:
        reference = service.image
        assert reference is not None
        digests = _repo_digests(client, service.running_image_id)
        result = checker.check_update(reference, digests, local_build=False)
        return result, _newer_tags(options, reference, service.labels)

    checks: dict[str, tuple[UpdateCheck, list[str]]] = {}
    if not services:
        return checks
    with ThreadPoolExecutor(max_workers=min(CHECK_WORKERS, len(services))) as pool:
        futures = {pool.submit(check, service): service for service in services}
        for index, future in enumerate(as_completed(futures), start=1):
            image = futures[future].image
            assert image is not None
            checks[image.normalized] = future.result()
            notify(ProgressEvent(Stage.RESOLVE, image.original, index, len(services)))
    return checks


def _newer_tags(
    options: UpdateOptions, reference: ImageReference, labels: dict[str, str]
) -> list[str]:
    """List the newer tags of the reference's series; empty when not checked."""
    if options.tags_client is None or reference.digest is not None:
        return []
    return list(find_newer_tags(options.tags_client, reference, labels).tags)


def _early_result(
    service: ServiceImage, project: ComposeProject | None, policy: Policy
) -> ServiceUpdate | None:
    """Return the result for a service that needs no registry check, else None."""
    if not enabled_by_labels(service.labels):
        return _result(
            service, UpdateAction.SKIPPED, "disabled by the label hullcheck.enable=false", policy
        )
    if service.local_build:
        return _result(
            service, UpdateAction.LOCAL_BUILD, "locally built: no registry check, no pull", policy
        )
    if service.image is None:
        problems = "; ".join(p.message for p in service.problems) or "no image reference"
        return _result(service, UpdateAction.FAILED, problems, policy)
    if not service.container_names:
        return _result(
            service, UpdateAction.SKIPPED, "not deployed: no running container to update", policy
        )
    if project is not None and not project.deployable:
        blockers = "; ".join(p.message for p in project.problems if p.blocks_deploy)
        return _result(
            service,
            UpdateAction.SKIPPED,
            f"project {project.name} cannot be deployed until fixed ({blockers})",
            policy,
        )
    return None


def _pull_candidates(
    candidates: list[_Candidate], client: docker.DockerClient, notify: ProgressCallback
) -> None:
    """Pull each candidate by digest, a few at a time, as ``docker compose pull`` does.

    The tag stays on the running image. A failed pull leaves that candidate out and the
    running version in place.
    """
    if not candidates:
        return

    def pull(candidate: _Candidate) -> str:
        digest = candidate.check.remote_digest
        return pull_image(client, candidate.reference.name, tag=None, digest=digest).image_id

    with ThreadPoolExecutor(max_workers=min(PULL_WORKERS, len(candidates))) as pool:
        futures = {pool.submit(pull, candidate): candidate for candidate in candidates}
        for index, future in enumerate(as_completed(futures), start=1):
            candidate = futures[future]
            notify(ProgressEvent(Stage.PULL, candidate.reference.original, index, len(candidates)))
            try:
                candidate.image_id = future.result()
            except EngineError as error:
                candidate.scan_error = f"update failed, kept the running version: {error}"


def _pull_and_scan(
    candidates: list[_Candidate],
    record: RunRecord,
    client: docker.DockerClient,
    scanner: Scanner,
    store: RunStore | None,
    notify: ProgressCallback,
    enrich: Callable[[ImageScan], ImageScan] | None = None,
    reuse: ScanReuse | None = None,
) -> None:
    """Pull each candidate by digest (the tag stays on the running image), then scan old and new."""
    _pull_candidates(candidates, client, notify)

    notify(ProgressEvent(Stage.PREPARE, "vulnerability DB"))
    try:
        record.scanner = scanner.prepare()
    except ScannerError as error:
        record.error = str(error)
        for candidate in candidates:
            candidate.scan_error = candidate.scan_error or f"scanner unavailable: {error}"
        return

    scanned: dict[str, ImageScan] = {}
    names = [(c, c.image_id) for c in candidates if c.image_id] + [
        (c, s.running_image_id)
        for c in candidates
        for s in c.services
        if s.running_image_id and c.image_id
    ]
    for index, (candidate, image_id) in enumerate(names, start=1):
        assert image_id is not None
        if image_id not in scanned:
            notify(ProgressEvent(Stage.SCAN, candidate.reference.original, index, len(names)))
            result = _scan(scanner, client, candidate, image_id, reuse, record.scanner)
            scanned[image_id] = enrich(result) if enrich else result
            record.images.append(scanned[image_id])
            if store and record.run_id is not None:
                store.save_image(record.run_id, scanned[image_id])
        if image_id == candidate.image_id:
            candidate.findings = scanned[image_id].findings
            if scanned[image_id].status is ScanStatus.FAILED:
                candidate.scan_error = (
                    f"the new image could not be scanned: {scanned[image_id].reason}"
                )
    scanner.finish()


def _scan(
    scanner: Scanner,
    client: docker.DockerClient,
    candidate: _Candidate,
    image_id: str,
    reuse: ScanReuse | None = None,
    info: ScannerInfo | None = None,
) -> ImageScan:
    """Scan one image, reusing what the history and stored SBOMs already hold."""
    services = tuple(f"{s.project}/{s.service}" for s in candidate.services)
    role = "candidate" if image_id == candidate.image_id else "running"
    label = f"{candidate.reference.normalized} ({role})"
    earlier = reuse.previous(image_id, info) if reuse is not None and info is not None else None
    if earlier is not None:
        return earlier.model_copy(
            update={"image": label, "services": services, "source": ScanSource.REUSED}
        )
    sbom = reuse.sbom_path(image_id) if reuse is not None else None
    source = ScanSource.IMAGE
    try:
        if sbom is not None and reuse is not None and reuse.reuse_results and sbom.exists():
            findings, source = scanner.scan_sbom(sbom), ScanSource.SBOM
        else:
            findings = scanner.scan_image(_name_for(client, image_id), sbom_output=sbom)
    except ImageScanError as error:
        return ImageScan(
            image=f"{candidate.reference.normalized} ({role})",
            image_id=image_id,
            services=services,
            status=ScanStatus.FAILED,
            failure=error.failure,
            reason=str(error),
        )
    return ImageScan(
        image=f"{candidate.reference.normalized} ({role})",
        image_id=image_id,
        services=services,
        status=ScanStatus.SCANNED if findings.analysed else ScanStatus.NOTHING_ANALYSED,
        findings=findings,
        source=source,
    )


def _apply(
    service: ServiceImage,
    candidate: _Candidate,
    record: RunRecord,
    client: docker.DockerClient,
    options: UpdateOptions,
    notify: ProgressCallback,
) -> ServiceUpdate:
    policy = policy_from_labels(service.labels, options.policy)
    update = _result(service, UpdateAction.HELD, "", policy)
    update.remote_digest = candidate.check.remote_digest
    update.newer_tags = candidate.newer_tags
    update.candidate_image_id = candidate.image_id
    if candidate.image_id is None:
        update.action = UpdateAction.FAILED
        update.reason = candidate.scan_error or "the new image was not pulled"
        return update
    if candidate.image_id == service.running_image_id:
        # A re-serialised manifest (other JSON bytes, or another manifest media type)
        # gets a new digest for the same image: recreating would only restart the service.
        update.action = UpdateAction.UP_TO_DATE
        update.reason = (
            f"tag {candidate.reference.effective_tag} now resolves to "
            f"{candidate.check.remote_digest}, which is the image already running "
            f"({candidate.image_id})"
        )
        return update

    running = _findings_of(record, service.running_image_id)
    if candidate.findings is not None and running is not None:
        update.delta = finding_delta(running, candidate.findings)

    decision = _decide(service, candidate, running, client, policy, options)
    update.escalations = list(decision.escalations)
    if not decision.deploy:
        update.reason = decision.reason
        logger.info("Held %s/%s: %s", service.project, service.service, decision.reason)
        return update

    notify(ProgressEvent(Stage.DEPLOY, f"{service.project}/{service.service}"))
    return _deploy(service, candidate, update, client, options, decision)


def _decide(
    service: ServiceImage,
    candidate: _Candidate,
    running: ImageFindings | None,
    client: docker.DockerClient,
    policy: Policy,
    options: UpdateOptions,
) -> Decision:
    if policy is Policy.NOTIFY_ONLY:
        return Decision(False, "notify-only policy: update available, not applied")
    assert candidate.image_id is not None
    new_config = client.images.get(candidate.image_id).attrs
    held = stateful_major_hold(
        candidate.reference,
        _major_of(client, service.running_image_id),
        image_major_version(
            new_config.get("Config", {}).get("Labels") or {},
            new_config.get("Config", {}).get("Env") or [],
        ),
    )
    if held is None:
        held = too_young(_created(new_config), options.minimum_age, datetime.now(UTC))
    if held is not None:
        return Decision(False, held)

    if candidate.findings is None or running is None:
        reason = candidate.scan_error or "the running image could not be scanned"
        if policy is Policy.STRICT:
            return Decision(False, f"strict policy: {reason}")
        return Decision(True, "availability policy, without a complete scan", (reason,))
    return decide(policy, running, candidate.findings, known_exploited=options.known_exploited)


def _deploy(
    service: ServiceImage,
    candidate: _Candidate,
    update: ServiceUpdate,
    client: docker.DockerClient,
    options: UpdateOptions,
    decision: Decision,
) -> ServiceUpdate:
    assert candidate.image_id is not None and service.running_image_id is not None
    try:
        container = client.containers.get(service.container_names[0])
        target = target_from_container(container)
        # The spelling from the compose file, since Compose compares it with the tag it runs.
        outcome = recreate_service(
            client,
            target,
            reference=candidate.reference.original,
            old_image_id=service.running_image_id,
            new_image_id=candidate.image_id,
            env=options.compose_env,
            health_timeout=options.health_timeout,
            stable_seconds=options.stable_seconds,
        )
    except (docker.errors.DockerException, HullcheckError) as error:
        update.action = UpdateAction.FAILED
        update.reason = f"update failed: {error}"
        return update

    update.action = {
        RecreateStatus.RECREATED: UpdateAction.UPDATED,
        RecreateStatus.ROLLED_BACK: UpdateAction.ROLLED_BACK,
    }.get(outcome.status, UpdateAction.FAILED)
    if update.action is UpdateAction.UPDATED:
        update.reason = f"updated to {candidate.check.remote_digest} ({decision.reason})"
    elif not outcome.containers_replaced:
        update.reason = (
            f"update failed, kept the running version: {outcome.reason or 'no reason given'}"
        )
    else:
        update.reason = outcome.reason or "recreate failed"
    logger.info(
        "%s/%s: %s (%s)", service.project, service.service, update.action.value, update.reason
    )
    return update


def _dry_run_result(
    service: ServiceImage, candidate: _Candidate, options: UpdateOptions
) -> ServiceUpdate:
    policy = policy_from_labels(service.labels, options.policy)
    update = _result(
        service,
        UpdateAction.SKIPPED,
        f"dry run: update available ({candidate.check.reason}); not pulled, scanned or deployed",
        policy,
    )
    update.remote_digest = candidate.check.remote_digest
    update.newer_tags = candidate.newer_tags
    return update


def _result(
    service: ServiceImage, action: UpdateAction, reason: str, policy: Policy
) -> ServiceUpdate:
    return ServiceUpdate(
        project=service.project,
        service=service.service,
        image=service.image.normalized if service.image else service.local_image_name,
        action=action,
        reason=reason,
        policy=policy,
        running_image_id=service.running_image_id,
    )


def _repo_digests(client: docker.DockerClient, image_id: str | None) -> list[str]:
    if image_id is None:
        return []
    try:
        return list(client.images.get(image_id).attrs.get("RepoDigests") or [])
    except docker.errors.ImageNotFound:
        return []


def _name_for(client: docker.DockerClient, image_id: str) -> str:
    """Return a name Trivy can look up on the engine: a RepoDigest, else a tag, else the ID."""
    attrs = client.images.get(image_id).attrs
    for key in ("RepoDigests", "RepoTags"):
        names = attrs.get(key) or []
        if names:
            return str(names[0])
    return image_id


def _major_of(client: docker.DockerClient, image_id: str | None) -> str | None:
    if image_id is None:
        return None
    config = client.images.get(image_id).attrs.get("Config", {})
    return image_major_version(config.get("Labels") or {}, config.get("Env") or [])


def _created(attrs: dict[str, object]) -> datetime | None:
    value = attrs.get("Created")
    if not isinstance(value, str):
        return None
    try:
        # The engine writes nanoseconds; fromisoformat accepts at most microseconds.
        trimmed = value.rstrip("Z")
        if "." in trimmed:
            head, fraction = trimmed.split(".", 1)
            trimmed = f"{head}.{fraction[:6]}"
        return datetime.fromisoformat(trimmed).replace(tzinfo=UTC)
    except ValueError:
        return None


def _findings_of(record: RunRecord, image_id: str | None) -> ImageFindings | None:
    for scan in record.images:
        if scan.image_id == image_id and scan.findings is not None:
            return scan.findings
    return None


def _in_discovery_order(
    results: list[ServiceUpdate], discovery: DiscoveryResult
) -> list[ServiceUpdate]:
    order = {(s.project, s.service): index for index, s in enumerate(discovery.services)}
    return sorted(
        results, key=lambda update: order.get((update.project, update.service), len(order))
    )


def _any_failed(record: RunRecord) -> bool:
    failed_update = any(
        u.action in (UpdateAction.FAILED, UpdateAction.ROLLED_BACK) for u in record.updates
    )
    return failed_update or bool(record.failed_images())


def _finish(record: RunRecord, store: RunStore | None, status: RunStatus) -> None:
    record.status = status
    record.finished_at = datetime.now(UTC)
    if store and record.run_id is not None:
        store.finish_run(
            record.run_id,
            status,
            scanner=record.scanner,
            error=record.error,
            finished_at=record.finished_at,
        )
