"""429, 5xx and network failures: retried once where allowed, otherwise check_failed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from registry_lab import (
    AuthProxy,
    Canned,
    RecordedSleep,
    RegistryServer,
    SilentServer,
    free_port,
    image_ref,
    push_image,
)

from hullcheck.registry import HUB_RATE_LIMIT_REASON, CheckFailure, UpdateChecker, UpdateState

HUB_429 = Canned(
    429,
    {
        "Content-Type": "application/json",
        "ratelimit-limit": "100;w=21600",
        "ratelimit-remaining": "0;w=21600",
    },
)


def test_registry_500_fails_check(
    open_proxy: AuthProxy, registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    digest = push_image(registry, "team/app", "1", content="a")
    open_proxy.canned.append(Canned(500))

    result = make_checker().check_update(
        image_ref(open_proxy.host, "team/app", "1"),
        [f"{open_proxy.host}/team/app@{digest}"],
        local_build=False,
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.SERVER_ERROR
    assert result.reason.startswith("check failed (registry error): ")
    assert "HTTP 500" in result.reason


def test_429_then_success(
    open_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    sleep: RecordedSleep,
) -> None:
    digest = push_image(registry, "team/app", "1", content="a")
    open_proxy.canned.append(Canned(429, {"Retry-After": "2"}))

    result = make_checker().check_update(
        image_ref(open_proxy.host, "team/app", "1"),
        [f"{open_proxy.host}/team/app@{digest}"],
        local_build=False,
    )

    assert result.state is UpdateState.UP_TO_DATE
    assert sleep.delays == [2.0]
    assert [request.method for request in open_proxy.requests] == ["HEAD", "HEAD"]


def test_429_twice_fails(
    open_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    sleep: RecordedSleep,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    open_proxy.canned.extend([Canned(429, {"Retry-After": "1"}), Canned(429, {"Retry-After": "1"})])

    result = make_checker().check_update(
        image_ref(open_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.RATE_LIMIT
    assert result.reason.startswith("check failed (rate limit): ")
    assert sleep.delays == [1.0]
    assert len(open_proxy.requests) == 2


def test_retry_after_above_max_not_awaited(
    open_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    sleep: RecordedSleep,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    open_proxy.canned.append(Canned(429, {"Retry-After": "3600"}))

    result = make_checker(retry_after_max_seconds=60).check_update(
        image_ref(open_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.RATE_LIMIT
    assert "Retry-After: 3600" in result.reason
    assert sleep.delays == []
    assert len(open_proxy.requests) == 1


def test_429_on_other_host_keeps_checking(
    open_proxy: AuthProxy, registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    push_image(registry, "team/app", "1", content="a")
    open_proxy.canned.append(HUB_429)
    checker = make_checker()
    ref = image_ref(open_proxy.host, "team/app", "1")

    first = checker.check_update(ref, [], local_build=False)
    second = checker.check_update(ref, [], local_build=False)

    assert first.state is UpdateState.CHECK_FAILED
    assert second.state is UpdateState.UPDATE_AVAILABLE
    assert checker.client.hub_rate_limited is False


def test_hub_429_skips_remaining_hub_images(
    open_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("library/nginx", "library/redis", "searxng/searxng", "team/other"):
        push_image(registry, name, "latest", content=name)
    open_proxy.canned.append(HUB_429)
    checker = make_checker(hub_hosts=frozenset({open_proxy.host}))
    caplog.set_level(logging.WARNING)

    hub_results = [
        checker.check_update(image_ref(open_proxy.host, name, "latest"), [], local_build=False)
        for name in ("library/nginx", "library/redis", "searxng/searxng")
    ]
    other = checker.check_update(
        image_ref(registry.host, "team/other", "latest"), [], local_build=False
    )

    assert [result.state for result in hub_results] == [UpdateState.CHECK_FAILED] * 3
    assert [result.failure for result in hub_results] == [CheckFailure.RATE_LIMIT] * 3
    assert "HTTP 429" in hub_results[0].reason
    assert hub_results[0].skipped is False
    assert [result.reason for result in hub_results[1:]] == [HUB_RATE_LIMIT_REASON] * 2
    assert [result.skipped for result in hub_results[1:]] == [True, True]
    assert len(open_proxy.requests) == 1
    assert checker.client.hub_rate_limited is True
    assert other.state is UpdateState.UPDATE_AVAILABLE
    assert "no further Docker Hub request" in caplog.text
    assert "0 of 100 requests remaining" in caplog.text


def test_hub_pinned_image_after_429(
    open_proxy: AuthProxy, registry: RegistryServer, make_checker: Callable[..., UpdateChecker]
) -> None:
    digest = push_image(registry, "library/nginx", "1", content="a")
    open_proxy.canned.append(HUB_429)
    checker = make_checker(hub_hosts=frozenset({open_proxy.host}))
    checker.check_update(image_ref(open_proxy.host, "library/nginx", "1"), [], local_build=False)

    result = checker.check_update(
        image_ref(open_proxy.host, "library/nginx", "1", digest=digest), [], local_build=False
    )

    assert result.state is UpdateState.PINNED
    assert result.reason == f"pinned to {digest}; tag 1 {HUB_RATE_LIMIT_REASON}"
    assert result.skipped is True


def test_rate_limit_headers_read(
    open_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    open_proxy.extra_headers = {
        "ratelimit-limit": "100;w=21600",
        "ratelimit-remaining": "7;w=21600",
    }
    checker = make_checker(rate_limit_warning_at=10)
    caplog.set_level(logging.DEBUG, logger="hullcheck.registry")
    ref = image_ref(open_proxy.host, "team/app", "1")

    first = checker.check_update(ref, [], local_build=False)
    checker.check_update(ref, [], local_build=False)

    assert first.rate_limit is not None
    assert first.rate_limit.remaining == 7
    assert first.rate_limit.limit == 100
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "7 of 100 requests remaining" in warnings[0].getMessage()
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum("rate limit: 7 of 100 remaining" in message for message in debug) == 2


def test_connection_refused_fails(make_checker: Callable[..., UpdateChecker]) -> None:
    host = f"127.0.0.1:{free_port()}"

    result = make_checker().check_update(image_ref(host, "team/app", "1"), [], local_build=False)

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.NETWORK
    assert "Connection refused" in result.reason


def test_timeout_fails(make_checker: Callable[..., UpdateChecker]) -> None:
    server = SilentServer()
    try:
        result = make_checker(timeout_seconds=0.3).check_update(
            image_ref(server.host, "team/app", "1"), [], local_build=False
        )
    finally:
        server.stop()

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.NETWORK
    assert "timed out after 0.3 s" in result.reason
