"""Advise: scan newer tags and leaner variants of one image next to the image in use.

Candidates are the newest tags of the current tag's series and the alpine, slim and
distroless variants of the current version. Each candidate is resolved to a digest with a
manifest HEAD, pulled by that digest and scanned with Trivy. Nothing is run, deployed or
written to a compose file. No UI here: progress goes to a callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import docker
import docker.errors
import requests.exceptions
from pydantic import BaseModel

from hullcheck.analysis.delta import finding_delta
from hullcheck.analysis.models import ImageFindings
from hullcheck.analysis.versions import TagFilter, newer_tags, variant_tags
from hullcheck.discovery.models import ImageReference, ServiceImage
from hullcheck.engine import EngineError, LocalImage, inspect_image, pull_image
from hullcheck.errors import HullcheckError
from hullcheck.orchestrator import ProgressCallback, ProgressEvent, Scanner, Stage
from hullcheck.registry.check import matching_digests
from hullcheck.registry.client import RegistryClient
from hullcheck.registry.errors import RegistryError
from hullcheck.registry.tags import DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE, fetch_tags
from hullcheck.scanning.models import FailureClass, ImageScan, ScannerInfo, ScanStatus
from hullcheck.scanning.trivy import ImageScanError

logger = logging.getLogger(__name__)

ADVICE_SCHEMA_VERSION = 1
"""Version of the ``advise --format json`` layout; raise it on any incompatible change."""


class AdviseError(HullcheckError):
    """The target cannot be advised on: no registry image, or no tag to start from."""


class CandidateKind(StrEnum):
    NEWER = "newer"
    """A newer tag of the current tag's series."""
    VARIANT = "variant"
    """An alpine, slim or distroless tag of the current version."""


@dataclass(frozen=True)
class AdviseTarget:
    """The image to advise on, with the labels of the service that uses it."""

    reference: ImageReference
    labels: Mapping[str, str] = field(default_factory=dict)
    service: str | None = None
    """``project/service`` when the target came from discovery."""
    running_image_id: str | None = None
    """Image ID of the service's running container: the current image when it is set."""

    @classmethod
    def from_service(cls, service: ServiceImage) -> AdviseTarget:
        """Build the target of a discovered service; raise AdviseError when it has no
        registry image."""
        label = f"{service.project}/{service.service}"
        if service.local_build:
            raise AdviseError(
                f"service {label} is built locally, so its registry has no tags to compare",
                hint="advise on the image its Dockerfile starts FROM instead",
            )
        if service.image is None:
            raise AdviseError(
                f"service {label} has no valid image reference ({service.image_text!r})",
                hint="fix the image: value in its compose file",
            )
        return cls(
            reference=service.image,
            labels=dict(service.labels),
            service=label,
            running_image_id=service.running_image_id,
        )


@dataclass(frozen=True)
class AdviseOptions:
    max_candidates: int = 3
    """Newer tags of the series to scan, newest first."""
    variants: bool = True
    """Also scan the alpine, slim and distroless variants of the current version."""
    keep_images: bool = False
    """Keep the images that advise pulled; by default they are removed after the scans."""
    tag_page_size: int = DEFAULT_PAGE_SIZE
    tag_max_pages: int = DEFAULT_MAX_PAGES


class AdvisedImage(BaseModel):
    """The current image or one candidate, with its scan."""

    image: str
    """``registry/repository:tag``."""
    tag: str | None
    kind: CandidateKind | None = None
    """None for the current image."""
    digest: str | None = None
    """Manifest digest: from the registry for a candidate, from RepoDigests for the current."""
    scan: ImageScan

    @property
    def findings(self) -> ImageFindings | None:
        """The findings when the scan analysed the image, else None (failed or nothing found
        to analyse, which is not the same as clean)."""
        if self.scan.status is not ScanStatus.SCANNED:
            return None
        return self.scan.findings


class Advice(BaseModel):
    """The result of advise for one target: the current image and every candidate."""

    target: str
    """The reference as the user or the compose file wrote it."""
    service: str | None = None
    current: AdvisedImage
    candidates: list[AdvisedImage] = []
    tags_listed: int | None = None
    """Tags the registry listed; None when the listing failed."""
    tags_truncated: bool = False
    tag_error: str | None = None
    scanner: ScannerInfo | None = None

    def clears(self, candidate: AdvisedImage) -> list[str] | None:
        """Vulnerability IDs of the current image that ``candidate`` does not have; None when
        either image has no usable scan."""
        current, other = self.current.findings, candidate.findings
        if current is None or other is None:
            return None
        return finding_delta(current, other).fixed

    def adds(self, candidate: AdvisedImage) -> list[str] | None:
        """Vulnerability IDs that ``candidate`` has and the current image does not."""
        current, other = self.current.findings, candidate.findings
        if current is None or other is None:
            return None
        return finding_delta(current, other).new

    def by_vulnerability(self) -> dict[str, list[str]]:
        """Map each vulnerability of the current image to the candidates that clear it.

        Ordered from the most severe vulnerability down; a vulnerability no candidate
        clears maps to an empty list. Empty when the current image has no usable scan.
        """
        current = self.current.findings
        if current is None:
            return {}
        ordered = sorted(
            current.findings, key=lambda finding: (-finding.severity.rank, finding.vulnerability_id)
        )
        cleared: dict[str, list[str]] = {finding.vulnerability_id: [] for finding in ordered}
        for candidate in self.candidates:
            for vulnerability_id in self.clears(candidate) or ():
                cleared[vulnerability_id].append(candidate.image)
        return cleared

    def incomplete(self) -> bool:
        """True when the tag listing or any scan failed, so the advice has gaps."""
        images = [self.current, *self.candidates]
        return self.tag_error is not None or any(
            image.scan.status is ScanStatus.FAILED for image in images
        )


def candidate_tags(
    reference: ImageReference,
    tags: list[str],
    labels: Mapping[str, str],
    options: AdviseOptions,
) -> list[tuple[str, CandidateKind]]:
    """Pick the candidates: the newest tags of the series, then the variants.

    Raises TagFilterError for an invalid tag filter label.
    """
    chosen: dict[str, CandidateKind] = {}
    for tag in newer_tags(reference, tags, labels)[: options.max_candidates]:
        chosen[tag] = CandidateKind.NEWER
    if options.variants:
        for tag in variant_tags(reference, tags, labels):
            chosen.setdefault(tag, CandidateKind.VARIANT)
    return list(chosen.items())


def run_advise(
    target: AdviseTarget,
    *,
    registry: RegistryClient,
    engine: docker.DockerClient,
    scanner: Scanner,
    options: AdviseOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Advice:
    """List tags, pull and scan the current image and each candidate, and compare them.

    A candidate that cannot be resolved, pulled or scanned is a failed entry with its
    reason. Raises AdviseError for a digest-only reference, TagFilterError for an invalid
    filter label and ScannerError when Trivy or its DB is unusable.
    """
    options = options or AdviseOptions()
    notify = progress or (lambda event: None)
    reference = target.reference
    if reference.effective_tag is None:
        raise AdviseError(
            f"{reference.original} has a digest but no tag, so it has no tag series",
            hint="write the tag next to the digest, as image:TAG@sha256:...",
        )
    # An invalid filter label fails before any request or pull.
    TagFilter.from_labels(target.labels)

    notify(ProgressEvent(Stage.RESOLVE, f"tags of {reference.name}"))
    tags_listed: int | None = None
    truncated = False
    tag_error: str | None = None
    candidates: list[tuple[str, CandidateKind]] = []
    try:
        listing = fetch_tags(
            registry, reference, page_size=options.tag_page_size, max_pages=options.tag_max_pages
        )
    except RegistryError as error:
        tag_error = f"listing tags failed ({error.failure}): {error}"
        logger.error("%s: %s", reference.name, tag_error)
    else:
        tags_listed, truncated = len(listing.tags), listing.truncated
        candidates = candidate_tags(reference, list(listing.tags), target.labels, options)
        logger.info(
            "%s: %d tags listed; candidates: %s",
            reference.name,
            tags_listed,
            ", ".join(tag for tag, _ in candidates) or "none",
        )

    notify(ProgressEvent(Stage.PREPARE, "vulnerability DB"))
    scanner_info = scanner.prepare()

    session = _ScanSession(registry, engine, scanner, notify, total=len(candidates) + 1)
    try:
        current = session.current(target)
        advised = [
            session.candidate(reference, tag, kind, index)
            for index, (tag, kind) in enumerate(candidates, start=2)
        ]
    finally:
        if not options.keep_images:
            session.remove_pulled()

    notify(ProgressEvent(Stage.DONE, "advise"))
    return Advice(
        target=reference.original,
        service=target.service,
        current=current,
        candidates=advised,
        tags_listed=tags_listed,
        tags_truncated=truncated,
        tag_error=tag_error,
        scanner=scanner_info,
    )


class _ScanSession:
    """The pulls and scans of one advise run, with the references it pulled and its scans."""

    def __init__(
        self,
        registry: RegistryClient,
        engine: docker.DockerClient,
        scanner: Scanner,
        notify: ProgressCallback,
        *,
        total: int,
    ) -> None:
        self._registry = registry
        self._engine = engine
        self._scanner = scanner
        self._notify = notify
        self._total = total
        self._pulled: list[str] = []
        self._scans: dict[str, ImageScan] = {}

    def current(self, target: AdviseTarget) -> AdvisedImage:
        """Scan the image in use: the running container's image, else the local image of
        the reference, else the reference pulled from its registry."""
        reference = target.reference
        image = f"{reference.name}:{reference.effective_tag}"
        registry_name = f"{reference.name}@{reference.digest}" if reference.digest else image
        self._notify(ProgressEvent(Stage.RESOLVE, image, 1, self._total))
        try:
            local: LocalImage | None = None
            name = registry_name
            if target.running_image_id is not None:
                local = inspect_image(self._engine, target.running_image_id)
                name = target.running_image_id
            if local is None:
                name = registry_name
                local = inspect_image(self._engine, name)
            if local is None:
                self._notify(ProgressEvent(Stage.PULL, image, 1, self._total))
                local = pull_image(
                    self._engine,
                    reference.name,
                    tag=reference.effective_tag,
                    digest=reference.digest,
                )
                self._pulled.append(name)
        except EngineError as error:
            logger.error("%s: %s", image, error)
            return AdvisedImage(
                image=image,
                tag=reference.effective_tag,
                digest=reference.digest,
                scan=_failed(image, None, FailureClass.IMAGE_UNAVAILABLE, str(error)),
            )
        digests = matching_digests(reference, local.repo_digests)
        digest = reference.digest or (digests[0] if digests else None)
        self._notify(ProgressEvent(Stage.SCAN, image, 1, self._total))
        return AdvisedImage(
            image=image,
            tag=reference.effective_tag,
            digest=digest,
            scan=self._scan(image, _scan_name(name, local), local),
        )

    def candidate(
        self, reference: ImageReference, tag: str, kind: CandidateKind, index: int
    ) -> AdvisedImage:
        """Resolve ``tag`` to a digest with a manifest HEAD, pull that digest and scan it."""
        image = f"{reference.name}:{tag}"
        tagged = ImageReference(
            original=image, registry=reference.registry, repository=reference.repository, tag=tag
        )
        self._notify(ProgressEvent(Stage.RESOLVE, image, index, self._total))
        try:
            digest = self._resolve_digest(tagged)
        except RegistryError as error:
            reason = f"registry check failed ({error.failure}): {error}"
            logger.error("%s: %s", image, reason)
            return AdvisedImage(
                image=image,
                tag=tag,
                kind=kind,
                scan=_failed(image, None, FailureClass.IMAGE_UNAVAILABLE, reason),
            )

        name = f"{reference.name}@{digest}"
        try:
            local = inspect_image(self._engine, name)
            if local is None:
                self._notify(ProgressEvent(Stage.PULL, image, index, self._total))
                local = pull_image(self._engine, reference.name, tag=None, digest=digest)
                self._pulled.append(name)
        except EngineError as error:
            logger.error("%s: %s", image, error)
            return AdvisedImage(
                image=image,
                tag=tag,
                kind=kind,
                digest=digest,
                scan=_failed(image, None, FailureClass.IMAGE_UNAVAILABLE, str(error)),
            )
        self._notify(ProgressEvent(Stage.SCAN, image, index, self._total))
        return AdvisedImage(
            image=image, tag=tag, kind=kind, digest=digest, scan=self._scan(image, name, local)
        )

    def _resolve_digest(self, reference: ImageReference) -> str:
        # Docker Hub counts no manifest HEAD as a pull; the pull by digest that follows is one.
        return self._registry.head_manifest(reference).digest

    def _scan(self, image: str, name: str, local: LocalImage) -> ImageScan:
        """Scan ``name``, or reuse the scan of an earlier image with the same image ID."""
        earlier = self._scans.get(local.image_id)
        if earlier is not None:
            return earlier.model_copy(update={"image": image})
        started = time.monotonic()
        try:
            findings = self._scanner.scan_image(name)
        except ImageScanError as error:
            logger.error("Scan of %s (%s) failed: %s", image, local.image_id, error)
            scan = _failed(image, local, error.failure, str(error))
        else:
            analysed = findings.analysed
            scan = ImageScan(
                image=image,
                image_id=local.image_id,
                repo_digests=local.repo_digests,
                status=ScanStatus.SCANNED if analysed else ScanStatus.NOTHING_ANALYSED,
                reason=None
                if analysed
                else "nothing analysed: Trivy detected no OS and no packages",
                findings=findings,
            )
            counts = findings.counts()
            logger.info(
                "Scanned %s (%s): %d critical, %d high",
                image,
                local.image_id,
                counts.CRITICAL,
                counts.HIGH,
            )
        scan.duration_seconds = time.monotonic() - started
        self._scans[local.image_id] = scan
        return scan

    def remove_pulled(self) -> None:
        """Remove the references this session pulled; the engine deletes an image only when
        no other tag or digest still refers to it."""
        for name in reversed(self._pulled):
            try:
                self._engine.images.remove(image=name)
            except docker.errors.ImageNotFound:
                continue
            except (docker.errors.APIError, requests.exceptions.RequestException) as error:
                logger.warning("Could not remove the pulled image %s: %s", name, error)
            else:
                logger.info("Removed the pulled image %s", name)
        self._pulled.clear()


def _scan_name(name: str, local: LocalImage) -> str:
    """Name to hand to Trivy: a tag or digest the engine maps to the same image as ``name``."""
    if not name.startswith("sha256:"):
        return name
    if local.repo_tags:
        return local.repo_tags[0]
    if local.repo_digests:
        return local.repo_digests[0]
    return local.image_id


def _failed(image: str, local: LocalImage | None, failure: FailureClass, reason: str) -> ImageScan:
    return ImageScan(
        image=image,
        image_id=local.image_id if local else None,
        repo_digests=local.repo_digests if local else (),
        status=ScanStatus.FAILED,
        failure=failure,
        reason=reason,
    )
