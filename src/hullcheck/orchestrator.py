"""The scan pipeline: discovered services -> unique local images -> Trivy -> stored run.

No UI here: progress goes to a callback that the CLI turns into Rich output.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import docker

from hullcheck.analysis.models import ImageFindings
from hullcheck.deployment.models import ServiceUpdate
from hullcheck.discovery.models import DiscoveryProblem, DiscoveryResult, ServiceImage
from hullcheck.engine import EngineError, LocalImage, inspect_image, pull_image
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import (
    FailureClass,
    ImageScan,
    ScannerError,
    ScannerInfo,
    ScanSource,
    ScanStatus,
)
from hullcheck.scanning.reuse import ScanReuse
from hullcheck.scanning.trivy import ImageScanError

logger = logging.getLogger(__name__)


SBOM_WORKERS = max(1, min(4, os.cpu_count() or 1))
"""Trivy processes matching stored SBOMs at once: one per CPU, at most four."""


class Stage(StrEnum):
    RESOLVE = "resolve"
    PULL = "pull"
    PREPARE = "prepare"
    SCAN = "scan"
    DEPLOY = "deploy"
    DONE = "done"


@dataclass(frozen=True)
class ProgressEvent:
    stage: Stage
    subject: str
    index: int = 0
    total: int = 0
    detail: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class Scanner(Protocol):
    def prepare(self) -> ScannerInfo: ...

    def scan_image(self, name: str, *, sbom_output: Path | None = None) -> ImageFindings: ...

    def scan_sbom(self, sbom: Path) -> ImageFindings: ...

    def scan_sboms(
        self, sboms: Sequence[Path], *, workers: int = 1
    ) -> dict[Path, ImageFindings | ImageScanError]: ...

    def finish(self) -> None:
        """Wait for work that outlives a scan, such as SBOMs written in the background."""
        ...


class RunStore(Protocol):
    def begin_run(self, run: RunRecord, *, pid: int | None = None) -> int: ...

    def save_image(self, run_id: int, scan: ImageScan) -> None: ...

    def save_problems(self, run_id: int, problems: list[DiscoveryProblem]) -> None: ...

    def save_updates(self, run_id: int, updates: list[ServiceUpdate]) -> None: ...

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        *,
        scanner: ScannerInfo | None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> None: ...


@dataclass
class ImageTarget:
    """One image to scan and the services that use it."""

    name: str
    """Name the engine finds the image under: a tag, ``repo@digest`` or an image ID."""
    display: str
    services: list[str] = field(default_factory=list)
    pullable: ServiceImage | None = None
    """A service whose registry reference can be pulled when the image is missing locally."""
    failure: ImageScan | None = None
    local: LocalImage | None = None
    alternatives: list[str] = field(default_factory=list)
    """Other local names to try when ``name`` is not on the engine."""


def plan_targets(discovery: DiscoveryResult) -> list[ImageTarget]:
    """Group active services by the image they use, keeping discovery order."""
    targets: dict[str, ImageTarget] = {}
    for service in discovery.services:
        if not service.active:
            continue
        label = f"{service.project}/{service.service}"
        if service.running_image_id:
            name = service.running_image_id
            display = (
                service.image.normalized if service.image else (service.local_image_name or name)
            )
        elif service.image is not None:
            reference = service.image
            name = (
                f"{reference.name}@{reference.digest}"
                if reference.digest
                else f"{reference.name}:{reference.effective_tag}"
            )
            display = reference.normalized
        elif service.local_image_name:
            name = display = service.local_image_name
        else:
            # No usable reference: a failed row with the reason, never a missing one.
            name = f"{label} (no image)"
            reason = (
                "; ".join(problem.message for problem in service.problems) or "no image reference"
            )
            failed = ImageTarget(name=name, display=service.image_text or name, services=[label])
            failed.failure = _failed(failed, FailureClass.INVALID_REFERENCE, reason)
            targets[name] = failed
            continue
        target = targets.setdefault(name, ImageTarget(name=name, display=display))
        target.services.append(label)
        if service.image is not None and not service.local_build and target.pullable is None:
            target.pullable = service
        if service.local_build and service.image is None:
            # Compose v1 names a built image <project>_<service>, v2 <project>-<service>.
            target.alternatives = [f"{service.project}_{service.service}"]
    return list(targets.values())


def run_scan(
    discovery: DiscoveryResult,
    *,
    command: str,
    scanner: Scanner,
    client: docker.DockerClient | None,
    engine_error: str | None = None,
    store: RunStore | None = None,
    pull_missing: bool = True,
    progress: ProgressCallback | None = None,
    reuse: ScanReuse | None = None,
    enrich: Callable[[ImageScan], ImageScan] | None = None,
    feeds: str | None = None,
    late_problems: Callable[[], list[DiscoveryProblem]] | None = None,
) -> RunRecord:
    """Scan every image that the discovered services use and record the run.

    One failing image never stops the others: it becomes a failed ImageScan with its
    reason. An interrupted run is stored as interrupted before the interruption goes on.
    """
    notify = progress or (lambda event: None)
    record = RunRecord(
        command=command,
        started_at=datetime.now(UTC),
        problems=discovery.all_problems(),
        feeds=feeds,
    )
    run_id = store.begin_run(record, pid=os.getpid()) if store else None
    if store and run_id is not None:
        store.save_problems(run_id, record.problems)
    record.run_id = run_id

    try:
        targets = plan_targets(discovery)
        _resolve_targets(targets, client, engine_error, pull_missing, notify)
        unique = _unique_by_image_id(targets)

        notify(ProgressEvent(Stage.PREPARE, "vulnerability DB"))
        try:
            record.scanner = scanner.prepare()
        except ScannerError as error:
            logger.error("Scanner unavailable: %s", error)
            record.error = str(error)
            for target in unique:
                _store(
                    record,
                    store,
                    target.failure or _failed(target, error.failure, str(error)),
                )
            _finish(record, store, RunStatus.FAILED)
            return record

        sbom_jobs: list[tuple[int, ImageTarget]] = []
        for index, target in enumerate(unique, start=1):
            if target.failure is not None:
                _store(record, store, target.failure)
                continue
            if _matches_stored_sbom(target, reuse, record.scanner):
                sbom_jobs.append((index, target))
                continue
            notify(ProgressEvent(Stage.SCAN, target.display, index, len(unique)))
            scan = _scan_target(scanner, target, reuse, record.scanner)
            _store(record, store, enrich(scan) if enrich else scan)

        # Stored SBOMs are matched in one batch: images on one OS release share a Trivy
        # process, and up to SBOM_WORKERS processes run side by side (they take no cache lock).
        matched: dict[Path, ImageFindings | ImageScanError] = {}
        if sbom_jobs and reuse is not None:
            notify(ProgressEvent(Stage.SCAN, f"stored SBOMs of {len(sbom_jobs)} images"))
            sboms = [
                reuse.sbom_path(target.local.image_id) for _, target in sbom_jobs if target.local
            ]
            matched = scanner.scan_sboms(sboms, workers=SBOM_WORKERS)
        for index, target in sbom_jobs:
            notify(ProgressEvent(Stage.SCAN, target.display, index, len(unique)))
            scan = _scan_target(scanner, target, reuse, record.scanner, matched)
            _store(record, store, enrich(scan) if enrich else scan)
        scanner.finish()

        # Problems found while scanning, such as an expired risk acceptance.
        found_late = late_problems() if late_problems else []
        if found_late:
            record.problems.extend(found_late)
            if store and record.run_id is not None:
                store.save_problems(record.run_id, found_late)
        _finish(record, store, _final_status(record))
        notify(ProgressEvent(Stage.DONE, command))
        return record
    except BaseException as error:
        # KeyboardInterrupt, SIGTERM (raised as SystemExit by the CLI) or a bug: never "complete".
        record.error = record.error or f"interrupted: {type(error).__name__}"
        _finish(record, store, RunStatus.INTERRUPTED)
        raise


def _resolve_targets(
    targets: list[ImageTarget],
    client: docker.DockerClient | None,
    engine_error: str | None,
    pull_missing: bool,
    notify: ProgressCallback,
) -> None:
    for index, target in enumerate(targets, start=1):
        notify(ProgressEvent(Stage.RESOLVE, target.display, index, len(targets)))
        if target.failure is not None:
            continue
        if client is None:
            target.failure = _failed(
                target,
                FailureClass.IMAGE_UNAVAILABLE,
                engine_error or "no Docker engine connection",
            )
            continue
        try:
            target.local = inspect_image(client, target.name)
            for alternative in target.alternatives:
                if target.local is None:
                    target.local = inspect_image(client, alternative)
                    if target.local is not None:
                        target.name = alternative
            if target.local is None and target.pullable is not None and pull_missing:
                notify(ProgressEvent(Stage.PULL, target.display, index, len(targets)))
                reference = target.pullable.image
                assert reference is not None
                target.local = pull_image(
                    client, reference.name, tag=reference.effective_tag, digest=reference.digest
                )
        except EngineError as error:
            target.failure = _failed(target, FailureClass.IMAGE_UNAVAILABLE, str(error))
            continue
        if target.local is None:
            hint = (
                "pull it, or drop --no-pull"
                if target.pullable
                else "build it with docker compose build"
            )
            target.failure = _failed(
                target,
                FailureClass.IMAGE_UNAVAILABLE,
                f"image {target.name} is not on this engine ({hint})",
            )


def _unique_by_image_id(targets: list[ImageTarget]) -> list[ImageTarget]:
    """Merge targets that resolved to the same local image, so each is scanned once."""
    unique: dict[str, ImageTarget] = {}
    for target in targets:
        key = target.local.image_id if target.local else f"unresolved:{target.name}"
        first = unique.get(key)
        if first is None:
            unique[key] = target
        else:
            first.services.extend(s for s in target.services if s not in first.services)
    return list(unique.values())


def _scan_name(target: ImageTarget) -> str:
    """Pick the name to hand to Trivy: a tag or digest the engine maps to the same image."""
    local = target.local
    assert local is not None
    if not target.name.startswith("sha256:"):
        return target.name
    if local.repo_tags:
        return local.repo_tags[0]
    if local.repo_digests:
        return local.repo_digests[0]
    return local.image_id


def _matches_stored_sbom(
    target: ImageTarget, reuse: ScanReuse | None, info: ScannerInfo | None
) -> bool:
    """True when the image will be checked by matching its stored SBOM, not analysed."""
    if reuse is None or info is None or not reuse.reuse_results or target.local is None:
        return False
    if reuse.previous(target.local.image_id, info) is not None:
        return False
    return reuse.sbom_path(target.local.image_id).exists()


def _scan_target(
    scanner: Scanner,
    target: ImageTarget,
    reuse: ScanReuse | None,
    info: ScannerInfo | None,
    matched: Mapping[Path, ImageFindings | ImageScanError] | None = None,
) -> ImageScan:
    local = target.local
    assert local is not None
    started = time.monotonic()
    if reuse is not None and info is not None:
        earlier = reuse.previous(local.image_id, info)
        # Without its SBOM a reused result would leave recheck nothing to match later.
        if earlier is not None and reuse.sbom_path(local.image_id).exists():
            logger.info(
                "Reused the result for %s (%s): same image and DB", target.display, local.image_id
            )
            return earlier.model_copy(
                update={
                    "image": target.display,
                    "services": tuple(target.services),
                    "repo_digests": local.repo_digests,
                    "source": ScanSource.REUSED,
                    "duration_seconds": 0.0,
                }
            )
    try:
        findings, source = _analyse(scanner, target, reuse, matched)
    except ImageScanError as error:
        logger.error("Scan of %s (%s) failed: %s", target.display, local.image_id, error)
        scan = _failed(target, error.failure, str(error))
        scan.duration_seconds = time.monotonic() - started
        return scan

    status = ScanStatus.SCANNED if findings.analysed else ScanStatus.NOTHING_ANALYSED
    reason = None if findings.analysed else "nothing analysed: Trivy detected no OS and no packages"
    counts = findings.counts()
    logger.info(
        "Scanned %s (%s): %d critical, %d high",
        target.display,
        local.image_id,
        counts.CRITICAL,
        counts.HIGH,
    )
    return ImageScan(
        image=target.display,
        image_id=local.image_id,
        repo_digests=local.repo_digests,
        services=tuple(target.services),
        status=status,
        reason=reason,
        findings=findings,
        duration_seconds=time.monotonic() - started,
        source=source,
    )


def _analyse(
    scanner: Scanner,
    target: ImageTarget,
    reuse: ScanReuse | None,
    matched: Mapping[Path, ImageFindings | ImageScanError] | None = None,
) -> tuple[ImageFindings, ScanSource]:
    """Match the stored SBOM when there is one, else analyse the image and store its SBOM.

    ``matched`` contains SBOM matches already made in a batch, by SBOM path.
    """
    assert target.local is not None
    if reuse is None:
        return scanner.scan_image(_scan_name(target)), ScanSource.IMAGE
    sbom = reuse.sbom_path(target.local.image_id)
    if reuse.reuse_results and sbom.exists():
        try:
            earlier = (matched or {}).get(sbom)
            if isinstance(earlier, ImageScanError):
                raise earlier
            if earlier is not None:
                return earlier, ScanSource.SBOM
            return scanner.scan_sbom(sbom), ScanSource.SBOM
        except ImageScanError as error:
            logger.warning(
                "Matching the stored SBOM of %s failed (%s); analysing the image",
                target.display,
                error,
            )
    return scanner.scan_image(_scan_name(target), sbom_output=sbom), ScanSource.IMAGE


def _failed(target: ImageTarget, failure: FailureClass, reason: str) -> ImageScan:
    local = target.local
    return ImageScan(
        image=target.display,
        image_id=local.image_id if local else None,
        repo_digests=local.repo_digests if local else (),
        services=tuple(target.services),
        status=ScanStatus.FAILED,
        failure=failure,
        reason=reason,
    )


def _store(record: RunRecord, store: RunStore | None, scan: ImageScan) -> None:
    record.images.append(scan)
    if store and record.run_id is not None:
        store.save_image(record.run_id, scan)


def _final_status(record: RunRecord) -> RunStatus:
    failed = len(record.failed_images())
    if failed == 0:
        return RunStatus.COMPLETE
    if failed == len(record.images):
        return RunStatus.FAILED
    return RunStatus.PARTIAL


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
