"""The update verdict for one image: compare the tag's remote digest with local RepoDigests."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hullcheck.discovery.models import ImageReference, InvalidReferenceError
from hullcheck.discovery.references import parse_reference
from hullcheck.registry.client import RegistryClient
from hullcheck.registry.errors import HubRateLimitedError, RegistryError
from hullcheck.registry.models import RemoteManifest, UpdateCheck, UpdateState

logger = logging.getLogger(__name__)

LOCAL_BUILD_REASON = "locally built: no registry check, no pull"
DIGEST_ONLY_REASON = "no tag: digest-only reference cannot be tracked"


def split_repo_digest(repo_digest: str) -> tuple[str, str] | None:
    """Split a RepoDigest into its normalised name and digest.

    ``nginx@sha256:ab..`` gives (``docker.io/library/nginx``, ``sha256:ab..``), so the forms
    Docker writes in RepoDigests compare equal to ``ImageReference.name``. Returns None
    for text that is not ``name@digest``.
    """
    try:
        parsed = parse_reference(repo_digest.strip())
    except InvalidReferenceError as error:
        logger.debug("ignoring RepoDigest %r: %s", repo_digest, error)
        return None
    if parsed.digest is None:
        return None
    return f"{parsed.registry.lower()}/{parsed.repository}", parsed.digest


def matching_digests(ref: ImageReference, repo_digests: Sequence[str]) -> tuple[str, ...]:
    """Return the digests among ``repo_digests`` that belong to ``ref``'s repository."""
    expected_name = f"{ref.registry.lower()}/{ref.repository}"
    found: list[str] = []
    for text in repo_digests:
        parsed = split_repo_digest(text)
        if parsed is not None and parsed[0] == expected_name and parsed[1] not in found:
            found.append(parsed[1])
    return tuple(found)


class UpdateChecker:
    """Checks images against their registries through one run-scoped RegistryClient."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def check_update(
        self,
        ref: ImageReference,
        local_repo_digests: Sequence[str],
        *,
        local_build: bool,
    ) -> UpdateCheck:
        """Decide whether ``ref``'s tag now resolves to content the local image lacks.

        Never raises a RegistryError: failures become ``check_failed`` (or stay ``pinned``
        with ``failure`` set), never ``up_to_date``.
        """
        result = self._check(ref, local_repo_digests, local_build=local_build)
        level = logging.INFO if result.failure is None else logging.WARNING
        logger.log(level, "%s: %s (%s)", result.image, result.state, result.reason)
        return result

    def _check(
        self, ref: ImageReference, local_repo_digests: Sequence[str], *, local_build: bool
    ) -> UpdateCheck:
        image = ref.normalized
        local = matching_digests(ref, local_repo_digests)
        if local_build:
            return UpdateCheck(
                image=image, state=UpdateState.LOCAL_BUILD, reason=LOCAL_BUILD_REASON
            )
        if ref.pinned and ref.tag is None:
            return UpdateCheck(
                image=image,
                state=UpdateState.PINNED,
                reason=DIGEST_ONLY_REASON,
                local_digests=local,
            )

        try:
            remote = self.client.head_manifest(ref)
        except RegistryError as error:
            return self._failed(ref, error, local)

        if ref.pinned:
            return self._pinned(ref, remote, local)
        if remote.digest.lower() in local:
            state = UpdateState.UP_TO_DATE
            reason = f"tag {ref.effective_tag} still resolves to {remote.digest}"
        elif local:
            state = UpdateState.UPDATE_AVAILABLE
            reason = f"tag {ref.effective_tag} now resolves to {remote.digest}"
        else:
            state = UpdateState.UPDATE_AVAILABLE
            reason = (
                f"tag {ref.effective_tag} resolves to {remote.digest}; the local image has no "
                f"digest from {ref.name} (not pulled from this registry, or not present)"
            )
        return UpdateCheck(
            image=image,
            state=state,
            reason=reason,
            remote_digest=remote.digest,
            local_digests=local,
            media_type=remote.media_type,
            rate_limit=remote.rate_limit,
        )

    @staticmethod
    def _pinned(ref: ImageReference, remote: RemoteManifest, local: tuple[str, ...]) -> UpdateCheck:
        if ref.digest is not None and remote.digest.lower() == ref.digest.lower():
            reason = f"pinned to {ref.digest}; tag {ref.tag} still resolves to it"
        else:
            reason = f"tag {ref.tag} now resolves to {remote.digest}"
        return UpdateCheck(
            image=ref.normalized,
            state=UpdateState.PINNED,
            reason=reason,
            remote_digest=remote.digest,
            local_digests=local,
            media_type=remote.media_type,
            rate_limit=remote.rate_limit,
        )

    @staticmethod
    def _failed(ref: ImageReference, error: RegistryError, local: tuple[str, ...]) -> UpdateCheck:
        skipped = isinstance(error, HubRateLimitedError)
        reason = error.message if skipped else f"check failed ({error.failure}): {error}"
        if ref.pinned:
            state = UpdateState.PINNED
            reason = f"pinned to {ref.digest}; tag {ref.tag} {reason}"
        else:
            state = UpdateState.CHECK_FAILED
        return UpdateCheck(
            image=ref.normalized,
            state=state,
            reason=reason,
            local_digests=local,
            failure=error.failure,
            skipped=skipped,
        )
