"""Bearer and Basic auth through a token server and an auth proxy in front of a real registry."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from registry_lab import (
    AuthProxy,
    Canned,
    FakeClock,
    RecordedSleep,
    RegistryServer,
    TokenServer,
    image_ref,
    push_image,
)

from hullcheck.discovery.references import parse_reference
from hullcheck.registry import (
    CheckFailure,
    Credentials,
    CredentialStore,
    RegistryAuthError,
    RegistryClient,
    RegistryProtocolError,
    RegistrySettings,
    UpdateChecker,
    UpdateState,
)
from hullcheck.registry.challenge import parse_www_authenticate


def _write_config(directory: Path, config: dict[str, object]) -> None:
    (directory / "config.json").write_text(json.dumps(config))


def _auth_entry(username: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_foreign_realm_with_query(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    digest = push_image(registry, "vendor/db", "v1.39.0", content="db")
    ref = image_ref(bearer_proxy.host, "vendor/db", "v1.39.0")

    result = make_checker().check_update(
        ref, [f"{bearer_proxy.host}/vendor/db@{digest}"], local_build=False
    )

    assert result.state is UpdateState.UP_TO_DATE
    [token_request] = token_server.token_requests()
    assert token_request.method == "GET"
    assert token_request.raw_query == (
        "x=1&service=lab-registry&scope=repository%3Avendor%2Fdb%3Apull"
    )
    assert "authorization" not in token_request.headers
    manifests = bearer_proxy.manifest_requests()
    assert [request.method for request in manifests] == ["HEAD", "HEAD"]
    assert "authorization" not in manifests[0].headers
    assert manifests[1].headers["authorization"].startswith("Bearer lab-token-")
    checks = [e for e in registry.access_log() if e.is_manifest and e.method != "PUT"]
    assert [entry.method for entry in checks] == ["HEAD"]


def test_token_reused_for_same_scope(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    push_image(registry, "team/app", "1", content="a")
    checker = make_checker()
    ref = image_ref(bearer_proxy.host, "team/app", "1")

    first = checker.check_update(ref, [], local_build=False)
    second = checker.check_update(ref, [], local_build=False)

    assert first.state is UpdateState.UPDATE_AVAILABLE
    assert second.state is UpdateState.UPDATE_AVAILABLE
    assert len(token_server.token_requests()) == 1
    statuses = [request.headers.get("authorization") is None for request in bearer_proxy.requests]
    assert statuses == [True, False, False]


def test_known_challenge_for_new_repository(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    push_image(registry, "team/app", "1", content="a")
    push_image(registry, "team/web", "1", content="b")
    checker = make_checker()

    checker.check_update(image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False)
    result = checker.check_update(
        image_ref(bearer_proxy.host, "team/web", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    scopes = [dict(request.query)["scope"] for request in token_server.token_requests()]
    assert scopes == ["repository:team/app:pull", "repository:team/web:pull"]
    # The second repository gets its token before its first HEAD, so no second 401.
    assert len(bearer_proxy.requests) == 3


def test_token_refreshed_after_expiry(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    clock: FakeClock,
) -> None:
    token_server.expires_in = 60
    push_image(registry, "team/app", "1", content="a")
    checker = make_checker()
    ref = image_ref(bearer_proxy.host, "team/app", "1")

    checker.check_update(ref, [], local_build=False)
    clock.advance(30)
    checker.check_update(ref, [], local_build=False)
    tokens_before_expiry = len(token_server.token_requests())
    clock.advance(60)
    result = checker.check_update(ref, [], local_build=False)

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert tokens_before_expiry == 1
    assert len(token_server.token_requests()) == 2
    sent = [request.headers.get("authorization") for request in bearer_proxy.requests]
    assert sent[2] != sent[3]


def test_token_lifetime_defaults_to_60s(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    clock: FakeClock,
) -> None:
    token_server.expires_in = None
    push_image(registry, "team/app", "1", content="a")
    checker = make_checker()
    ref = image_ref(bearer_proxy.host, "team/app", "1")

    checker.check_update(ref, [], local_build=False)
    clock.advance(45)
    checker.check_update(ref, [], local_build=False)
    assert len(token_server.token_requests()) == 1
    clock.advance(20)
    checker.check_update(ref, [], local_build=False)

    assert len(token_server.token_requests()) == 2


def test_token_refreshed_after_new_401(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    push_image(registry, "team/app", "1", content="a")
    checker = make_checker()
    ref = image_ref(bearer_proxy.host, "team/app", "1")

    checker.check_update(ref, [], local_build=False)
    token_server.revoke_all()
    result = checker.check_update(ref, [], local_build=False)

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert len(token_server.token_requests()) == 2
    methods = [request.method for request in bearer_proxy.requests]
    assert methods == ["HEAD"] * 4


@pytest.mark.parametrize("status", [401, 403])
def test_token_endpoint_rejects(
    status: int,
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    digest = push_image(registry, "linuxserver/radarr", "latest", content="a")
    token_server.canned.append(Canned(status, {"Content-Type": "application/json"}, b"{}"))

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "linuxserver/radarr", "latest"),
        [f"{bearer_proxy.host}/linuxserver/radarr@{digest}"],
        local_build=False,
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.AUTH
    assert result.reason.startswith("check failed (auth): ")
    assert f"HTTP {status}, anonymous access rejected" in result.reason
    assert result.remote_digest is None


def test_token_endpoint_server_error(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.canned.append(Canned(500))

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.SERVER_ERROR
    assert "HTTP 500" in result.reason


def test_token_endpoint_429_then_token(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    sleep: RecordedSleep,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.canned.append(Canned(429, {"Retry-After": "3"}))

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert sleep.delays == [3.0]
    assert len(token_server.token_requests()) == 2


def test_credentials_for_registry_stay_there(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    _write_config(docker_config, {"auths": {bearer_proxy.host: _auth_entry("alice", "pw-a")}})

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    [token_request] = token_server.token_requests()
    assert "authorization" not in token_request.headers
    assert "account" not in dict(token_request.query)


def test_credentials_for_realm_host_sent(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.required = ("bob", "pw-b")
    _write_config(
        docker_config,
        {
            "auths": {
                bearer_proxy.host: _auth_entry("alice", "pw-a"),
                token_server.host: _auth_entry("bob", "pw-b"),
            }
        },
    )

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    [token_request] = token_server.token_requests()
    assert token_request.headers["authorization"] == _basic("bob", "pw-b")
    assert dict(token_request.query)["account"] == "bob"
    sent = [request.headers.get("authorization", "") for request in bearer_proxy.requests]
    assert not [value for value in sent if value.startswith("Basic ")]


def test_wrong_credentials_fail_without_leak(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.required = ("bob", "right-secret")
    _write_config(docker_config, {"auths": {token_server.host: _auth_entry("bob", "wrong-secret")}})
    caplog.set_level(logging.DEBUG)

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.AUTH
    assert "the credentials of bob rejected" in result.reason
    assert "wrong-secret" not in result.reason
    assert "wrong-secret" not in caplog.text
    assert base64.b64encode(b"bob:wrong-secret").decode() not in caplog.text


def test_tokens_never_logged(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    caplog.set_level(logging.DEBUG)

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert token_server.issued
    for token in token_server.issued:
        assert token not in caplog.text
        assert token not in repr(result)


@pytest.fixture
def credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``docker-credential-lab`` program on PATH that returns fixed credentials."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-lab"
    helper.write_text(
        "#!/bin/sh\n"
        "read server\n"
        'echo "$server" >> "$(dirname "$0")/asked"\n'
        'printf \'{"ServerURL": "%s", "Username": "carol", "Secret": "pw-c"}\' "$server"\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    yield bin_dir


def test_credential_helper_for_realm(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
    credential_helper: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.required = ("carol", "pw-c")
    _write_config(docker_config, {"credHelpers": {token_server.host: "lab"}})

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    assert (credential_helper / "asked").read_text().split() == [token_server.host]
    [token_request] = token_server.token_requests()
    assert token_request.headers["authorization"] == _basic("carol", "pw-c")


def test_missing_credential_helper_fails(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    _write_config(docker_config, {"credHelpers": {token_server.host: "absent-lab-helper"}})

    with pytest.warns(UserWarning, match="docker-credential-absent-lab-helper"):
        result = make_checker().check_update(
            image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
        )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.AUTH
    assert "credential helper" in result.reason
    assert token_server.token_requests() == []


def test_identity_token_exchanged(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    token_server.required = ("nobody", "never-sent")
    token_server.identity_token = "refresh-lab"
    _write_config(docker_config, {"auths": {token_server.host: {"identitytoken": "refresh-lab"}}})

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.UPDATE_AVAILABLE
    [token_request] = token_server.token_requests()
    assert token_request.method == "POST"
    assert token_request.form["grant_type"] == "refresh_token"
    assert token_request.form["scope"] == "repository:team/app:pull"
    assert token_request.form["service"] == "lab-registry"


@pytest.fixture
def basic_proxy(registry: RegistryServer) -> Iterator[AuthProxy]:
    proxy = AuthProxy(registry, basic=("dave", "pw-d"))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def test_basic_challenge_with_credentials(
    basic_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    digest = push_image(registry, "team/app", "1", content="a")
    _write_config(docker_config, {"auths": {basic_proxy.host: _auth_entry("dave", "pw-d")}})

    result = make_checker().check_update(
        image_ref(basic_proxy.host, "team/app", "1"),
        [f"{basic_proxy.host}/team/app@{digest}"],
        local_build=False,
    )

    assert result.state is UpdateState.UP_TO_DATE
    sent = [request.headers.get("authorization") for request in basic_proxy.requests]
    assert sent == [None, _basic("dave", "pw-d")]


def test_basic_challenge_without_credentials(
    basic_proxy: AuthProxy,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
) -> None:
    push_image(registry, "team/app", "1", content="a")

    result = make_checker().check_update(
        image_ref(basic_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.state is UpdateState.CHECK_FAILED
    assert result.failure is CheckFailure.AUTH
    assert f"docker login {basic_proxy.host}" in result.reason


def test_hub_realm_uses_hub_credentials(docker_config: Path) -> None:
    _write_config(
        docker_config, {"auths": {"https://index.docker.io/v1/": _auth_entry("erin", "pw-e")}}
    )
    settings = RegistrySettings()
    store = CredentialStore()

    hub = store.lookup(settings.credential_host("auth.docker.io"))
    other = store.lookup(settings.credential_host("ghcr.io"))

    assert hub == Credentials(username="erin", password="pw-e")
    assert other is None
    assert "pw-e" not in repr(hub)


def test_invalid_config_fails_auth(docker_config: Path) -> None:
    _write_config(docker_config, {"auths": {"registry.example.net": "not-a-dict"}})

    with pytest.raises(RegistryAuthError, match="reading the Docker config file failed"):
        CredentialStore().lookup("registry.example.net")


def test_echoed_password_redacted(
    bearer_proxy: AuthProxy,
    token_server: TokenServer,
    registry: RegistryServer,
    make_checker: Callable[..., UpdateChecker],
    docker_config: Path,
) -> None:
    push_image(registry, "team/app", "1", content="a")
    _write_config(docker_config, {"auths": {token_server.host: _auth_entry("bob", "s3cret-pw")}})
    body = json.dumps({"details": "password s3cret-pw is wrong for bob"}).encode()
    token_server.canned.append(Canned(401, {"Content-Type": "application/json"}, body))

    result = make_checker().check_update(
        image_ref(bearer_proxy.host, "team/app", "1"), [], local_build=False
    )

    assert result.failure is CheckFailure.AUTH
    assert "password *** is wrong for bob" in result.reason
    assert "s3cret-pw" not in result.reason


class _NoNetworkSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        raise AssertionError(f"unexpected request: {args}")


def test_plain_http_realm_rejected() -> None:
    header = 'Bearer realm="http://registry.example.net/token",service="registry.example.net"'
    [challenge] = parse_www_authenticate(header)
    client = RegistryClient(session=_NoNetworkSession())
    authenticator = client._auth

    with pytest.raises(RegistryProtocolError, match="uses plain HTTP"):
        authenticator.authorization(
            challenge, registry="registry.example.net", repository="vendor/db"
        )


def test_docker_hub_is_hub_host() -> None:
    client = RegistryClient(session=_NoNetworkSession())

    assert client.is_hub(parse_reference("nginx"))
    assert client.is_hub(parse_reference("docker.io/searxng/searxng"))
    assert not client.is_hub(parse_reference("ghcr.io/example/app:2"))
