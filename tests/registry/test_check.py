"""Update checks against a real docker-registry, with images pushed through its HTTP API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from registry_lab import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    AuthProxy,
    RegistryServer,
    image_ref,
    push_image,
)

from hullcheck.registry import CheckFailure, UpdateChecker, UpdateState
from hullcheck.registry.check import DIGEST_ONLY_REASON, LOCAL_BUILD_REASON


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [
        ("docker", DOCKER_MANIFEST),
        ("oci", OCI_MANIFEST),
        ("oci-index", OCI_INDEX),
        ("docker-list", DOCKER_MANIFEST_LIST),
    ],
)
def test_head_digest_per_media_type(
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    kind: str,
    media_type: str,
) -> None:
    digest = push_image(registry, "team/app", "1", content=kind, kind=kind)
    client = make_checker().client

    remote = client.head_manifest(image_ref(registry.host, "team/app", "1"))

    assert remote.digest == digest
    assert remote.media_type == media_type


def test_checks_send_no_manifest_get(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    kinds = ["docker", "oci", "oci-index", "docker-list"]
    for kind in kinds:
        push_image(registry, f"team/{kind}", "1", content=kind, kind=kind)
    checker = make_checker()

    for kind in kinds:
        result = checker.check_update(
            image_ref(registry.host, f"team/{kind}", "1"), [], local_build=False
        )
        assert result.state is UpdateState.UPDATE_AVAILABLE

    checks = [e for e in registry.manifest_requests(expected_heads=len(kinds)) if e.method != "PUT"]
    assert [entry.method for entry in checks] == ["HEAD"] * len(kinds)
    assert [entry.status for entry in checks] == [200] * len(kinds)
    assert not [
        entry for entry in registry.access_log() if entry.method == "GET" and entry.is_manifest
    ]


def test_accept_header_sent_exactly(
    open_proxy: AuthProxy, registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    push_image(registry, "team/app", "1", content="a", kind="oci")

    make_checker().client.head_manifest(image_ref(open_proxy.host, "team/app", "1"))

    [request] = open_proxy.manifest_requests()
    assert request.method == "HEAD"
    assert request.headers["accept"] == (
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.docker.distribution.manifest.v2+json, "
        "application/vnd.oci.image.index.v1+json, "
        "application/vnd.oci.image.manifest.v1+json"
    )


def test_new_push_under_same_tag(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    first = push_image(registry, "team/app", "1", content="first")
    ref = image_ref(registry.host, "team/app", "1")
    local = [f"{registry.host}/team/app@{first}"]
    checker = make_checker()

    before = checker.check_update(ref, local, local_build=False)
    second = push_image(registry, "team/app", "1", content="second")
    after = checker.check_update(ref, local, local_build=False)

    assert second != first
    assert before.state is UpdateState.UP_TO_DATE
    assert before.remote_digest == first
    assert after.state is UpdateState.UPDATE_AVAILABLE
    assert after.remote_digest == second
    assert after.reason == f"tag 1 now resolves to {second}"
    assert after.local_digests == (first,)


def test_same_digest_among_repo_digests(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    current = push_image(registry, "example/cloud", "2", content="cloud", kind="oci-index")
    older = "sha256:" + "1" * 64
    local = [f"{registry.host}/example/cloud@{older}", f"{registry.host}/example/cloud@{current}"]

    result = make_checker().check_update(
        image_ref(registry.host, "example/cloud", "2"), local, local_build=False
    )

    assert result.state is UpdateState.UP_TO_DATE
    assert result.local_digests == (older, current)


def test_digest_of_other_repository_ignored(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    current = push_image(registry, "team/app", "1", content="a")
    local = [f"{registry.host}/team/fork@{current}"]

    result = make_checker().check_update(
        image_ref(registry.host, "team/app", "1"), local, local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert result.local_digests == ()
    assert "no digest from" in result.reason


def test_pinned_tag_moved(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    old = push_image(registry, "valkey/valkey", "9", content="old")
    new = push_image(registry, "valkey/valkey", "9", content="new")
    ref = image_ref(registry.host, "valkey/valkey", "9", digest=old)

    result = make_checker().check_update(
        ref, [f"{registry.host}/valkey/valkey@{old}"], local_build=False
    )

    assert result.state is UpdateState.PINNED
    assert result.reason == f"tag 9 now resolves to {new}"
    assert result.remote_digest == new


def test_pinned_tag_unchanged(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    digest = push_image(registry, "team/app", "1.2", content="a")
    ref = image_ref(registry.host, "team/app", "1.2", digest=digest)

    result = make_checker().check_update(ref, [], local_build=False)

    assert result.state is UpdateState.PINNED
    assert result.reason == f"pinned to {digest}; tag 1.2 still resolves to it"


def test_digest_only_sends_nothing(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    digest = push_image(registry, "team/app", "1", content="a")
    ref = image_ref(registry.host, "team/app", digest=digest)

    result = make_checker().check_update(ref, [], local_build=False)

    assert result.state is UpdateState.PINNED
    assert result.reason == DIGEST_ONLY_REASON
    assert [e for e in registry.access_log() if e.is_manifest and e.method != "PUT"] == []


def test_local_build_sends_nothing(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    result = make_checker().check_update(
        image_ref(registry.host, "buzzer", "latest"), [], local_build=True
    )

    assert result.state is UpdateState.LOCAL_BUILD
    assert result.reason == LOCAL_BUILD_REASON
    assert [e for e in registry.access_log() if e.is_manifest] == []


def test_missing_tag_is_not_found(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    push_image(registry, "team/app", "1", content="a")

    result = make_checker().check_update(
        image_ref(registry.host, "team/app", "2"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.NOT_FOUND
    assert result.reason.startswith("check failed (not found): ")
    assert "HTTP 404" in result.reason


def test_head_by_digest(
    registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    digest = push_image(registry, "team/app", "1", content="a", kind="oci")

    remote = make_checker().client.head_manifest(
        image_ref(registry.host, "team/app", digest=digest)
    )

    assert remote.digest == digest
    [entry] = [e for e in registry.access_log() if e.method == "HEAD"]
    assert entry.path == f"/v2/team/app/manifests/{digest}"
