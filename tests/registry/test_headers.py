"""Parsing of WWW-Authenticate, token URLs, rate-limit headers and registry hosts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hullcheck.discovery.references import parse_reference
from hullcheck.registry.challenge import parse_www_authenticate, token_url
from hullcheck.registry.check import matching_digests, split_repo_digest
from hullcheck.registry.client import classify_not_found
from hullcheck.registry.errors import ManifestMediaTypeError, ManifestNotFoundError
from hullcheck.registry.models import MANIFEST_ACCEPT, CheckFailure
from hullcheck.registry.ratelimit import parse_rate_limit, parse_retry_after
from hullcheck.registry.settings import RegistrySettings, is_loopback

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64


def test_accept_header_lists_four_types() -> None:
    assert MANIFEST_ACCEPT == (
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.docker.distribution.manifest.v2+json, "
        "application/vnd.oci.image.index.v1+json, "
        "application/vnd.oci.image.manifest.v1+json"
    )


def test_challenge_bearer_foreign_realm() -> None:
    header = (
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",'
        'scope="repository:linuxserver/radarr:pull"'
    )
    [challenge] = parse_www_authenticate(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://ghcr.io/token"
    assert challenge.service == "ghcr.io"
    assert challenge.scope == "repository:linuxserver/radarr:pull"


def test_challenge_scope_with_comma() -> None:
    header = 'Bearer realm="https://r.example/t", scope="repository:a/b:pull,push", error="invalid_token"'
    [challenge] = parse_www_authenticate(header)
    assert challenge.scope == "repository:a/b:pull,push"
    assert challenge.params["error"] == "invalid_token"


def test_challenge_several_schemes() -> None:
    header = 'Basic realm="lab", Bearer realm="https://r.example/t",service=r.example'
    challenges = parse_www_authenticate(header)
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].realm == "lab"
    assert challenges[1].service == "r.example"


def test_challenge_escaped_quote_and_case() -> None:
    [challenge] = parse_www_authenticate('BEARER Realm="https://r.example/t?a=\\"b\\""')
    assert challenge.scheme == "bearer"
    assert challenge.realm == 'https://r.example/t?a="b"'


def test_challenge_empty_header() -> None:
    assert parse_www_authenticate("") == []


def test_token_url_quay() -> None:
    url = token_url(
        "https://quay.io/v2/auth",
        [("service", "quay.io"), ("scope", "repository:example/tool:pull")],
    )
    assert url == "https://quay.io/v2/auth?service=quay.io&scope=repository%3Aexample%2Ftool%3Apull"


def test_token_url_realm_with_query() -> None:
    url = token_url(
        "https://ghcr.io/token?x=1",
        [("service", "ghcr.io"), ("scope", "repository:vendor/db:pull")],
    )
    assert url == "https://ghcr.io/token?x=1&service=ghcr.io&scope=repository%3Avendor%2Fdb%3Apull"
    assert url.count("?") == 1


def test_token_url_drops_fragment() -> None:
    assert token_url("https://r.example/t?x=1&#f", [("service", "s")]) == (
        "https://r.example/t?x=1&service=s"
    )


def test_rate_limit_docker_hub_headers() -> None:
    rate_limit = parse_rate_limit(
        {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}
    )
    assert rate_limit is not None
    assert rate_limit.limit == 100
    assert rate_limit.remaining == 0
    assert rate_limit.window_seconds == 21600


def test_rate_limit_absent() -> None:
    assert parse_rate_limit({"content-type": "application/json"}) is None


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("35") == 35.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.8.9.10", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("10.0.0.5:5000", False),
        ("registry.example.net", False),
        ("localhost.example.net", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_base_url_scheme() -> None:
    settings = RegistrySettings(insecure_registries=frozenset({"registry.lan:5000"}))
    assert settings.base_url("registry-1.docker.io") == "https://registry-1.docker.io"
    assert settings.base_url("10.0.0.5:5000") == "https://10.0.0.5:5000"
    assert settings.base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert settings.base_url("registry.lan:5000") == "http://registry.lan:5000"
    assert settings.base_url("registry.lan") == "https://registry.lan"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("library/nginx", "docker.io/library/nginx"),
        ("docker.io/library/nginx", "docker.io/library/nginx"),
        ("index.docker.io/nginx", "docker.io/library/nginx"),
        ("searxng/searxng", "docker.io/searxng/searxng"),
        ("localhost:5000/team/app", "localhost:5000/team/app"),
        ("localhost/app", "localhost/app"),
        ("ghcr.io/example/app", "ghcr.io/example/app"),
    ],
)
def test_repo_digest_names(text: str, name: str) -> None:
    assert split_repo_digest(f"{text}@{DIGEST_A}") == (name, DIGEST_A)


@pytest.mark.parametrize("text", ["nginx:latest", "nginx@sha256:1111", "", "Nginx@" + DIGEST_A])
def test_repo_digest_invalid(text: str) -> None:
    assert split_repo_digest(text) is None


def test_matching_digests_hub_spellings() -> None:
    digests = matching_digests(
        parse_reference("nginx"),
        [
            f"nginx@{DIGEST_A}",
            f"docker.io/library/nginx@{DIGEST_B}",
            f"ghcr.io/library/nginx@{DIGEST_C}",
            f"index.docker.io/library/nginx@{DIGEST_A}",
        ],
    )
    assert digests == (DIGEST_A, DIGEST_B)


def test_matching_digests_registry_port() -> None:
    digests = matching_digests(
        parse_reference("localhost:5000/team/app:1.2"),
        [f"localhost:5000/team/app@{DIGEST_A}", f"team/app@{DIGEST_B}"],
    )
    assert digests == (DIGEST_A,)


def test_not_found_accept_error_is_client_bug() -> None:
    error = classify_not_found(
        "HEAD r/a:1",
        "MANIFEST_UNKNOWN: OCI manifest found, but accept header does not support OCI manifests",
    )
    assert isinstance(error, ManifestMediaTypeError)
    assert error.failure is CheckFailure.CLIENT_BUG


def test_not_found_plain_404() -> None:
    error = classify_not_found("HEAD r/a:1", "")
    assert isinstance(error, ManifestNotFoundError)
    assert error.failure is CheckFailure.NOT_FOUND
