"""Image reference parsing: Docker's grammar, Hub normalisation, tags with digests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hullcheck.discovery.models import InvalidReferenceError
from hullcheck.discovery.references import parse_reference

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "0123456789abcdef" * 4


# Tag and digest together: the reference is pinned, and only the digest-only form has no tag.
@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        (f"docker.io/valkey/valkey:9@{DIGEST_A}", "docker.io", "valkey/valkey", "9", DIGEST_A),
        (
            f"ghcr.io/example/postgres:14-vectors0.4@{DIGEST_B}",
            "ghcr.io",
            "example/postgres",
            "14-vectors0.4",
            DIGEST_B,
        ),
        (f"example/app@{DIGEST_A}", "docker.io", "example/app", None, DIGEST_A),
        (f"example/app:1.2@{DIGEST_B}", "docker.io", "example/app", "1.2", DIGEST_B),
    ],
)
def test_tag_and_digest(
    text: str, registry: str, repository: str, tag: str | None, digest: str
) -> None:
    reference = parse_reference(text)

    assert reference.registry == registry
    assert reference.repository == repository
    assert reference.tag == tag
    assert reference.digest == digest
    assert reference.pinned
    assert reference.original == text


def test_digest_only_has_no_tag() -> None:
    reference = parse_reference(f"example/app@{DIGEST_A}")

    assert reference.effective_tag is None
    assert reference.normalized == f"docker.io/example/app@{DIGEST_A}"


def test_tag_and_digest_keep_both_in_key() -> None:
    reference = parse_reference(f"docker.io/valkey/valkey:9@{DIGEST_A}")

    assert reference.normalized == f"docker.io/valkey/valkey:9@{DIGEST_A}"


# A registry is only a first component with '.' or ':', or 'localhost'. A tag is only a ':'
# after the last '/'.
@pytest.mark.parametrize(
    ("text", "registry", "repository", "effective_tag", "digest"),
    [
        ("localhost:5000/team/app", "localhost:5000", "team/app", "latest", None),
        ("localhost:5000/team/app:1.2", "localhost:5000", "team/app", "1.2", None),
        ("myregistry:5000/app", "myregistry:5000", "app", "latest", None),
        ("10.0.0.5:5000/app:latest", "10.0.0.5:5000", "app", "latest", None),
        (f"registry.lan:5000/app@{DIGEST_A}", "registry.lan:5000", "app", None, DIGEST_A),
        ("myregistry/app:1.0", "docker.io", "myregistry/app", "1.0", None),
        ("ghcr.io:443/containers/podlet", "ghcr.io:443", "containers/podlet", "latest", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("[::1]:5000/app:2", "[::1]:5000", "app", "2", None),
    ],
)
def test_registry_with_port(
    text: str, registry: str, repository: str, effective_tag: str | None, digest: str | None
) -> None:
    reference = parse_reference(text)

    assert reference.registry == registry
    assert reference.repository == repository
    assert reference.effective_tag == effective_tag
    assert reference.digest == digest


# Every spelling of the official nginx image shares one key, and the user's text is kept.
@pytest.mark.parametrize(
    ("text", "normalized", "repository"),
    [
        ("nginx", "docker.io/library/nginx:latest", "library/nginx"),
        ("nginx:latest", "docker.io/library/nginx:latest", "library/nginx"),
        ("library/nginx", "docker.io/library/nginx:latest", "library/nginx"),
        ("docker.io/nginx", "docker.io/library/nginx:latest", "library/nginx"),
        ("index.docker.io/library/nginx:latest", "docker.io/library/nginx:latest", "library/nginx"),
        ("docker.io/searxng/searxng", "docker.io/searxng/searxng:latest", "searxng/searxng"),
    ],
)
def test_docker_hub_normalisation(text: str, normalized: str, repository: str) -> None:
    reference = parse_reference(text)

    assert reference.normalized == normalized
    assert reference.registry == "docker.io"
    assert reference.repository == repository
    assert reference.api_host == "registry-1.docker.io"
    assert reference.original == text


def test_bare_name_keeps_unwritten_tag() -> None:
    reference = parse_reference("nginx")

    assert reference.tag is None
    assert reference.effective_tag == "latest"
    assert not reference.pinned


def test_other_registry_api_host() -> None:
    assert parse_reference("ghcr.io/example/app:1").api_host == "ghcr.io"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ghcr.io/example/app:", "tag after ':' is empty"),
        ("example/App", "must be lower case"),
        ("nginx/NGINX:1", "must be lower case"),
        ("NGINX", "must be lower case"),
        ("ghcr.io/example/app:${TAG:-1}", "unresolved ${...}"),
        ("app:${TAG}", "unresolved ${...}"),
        ("app :1", "whitespace"),
        ("", "empty"),
        ("app:" + "a" * 129, "tag 'aaa"),
        ("app:.hidden", "tag '.hidden'"),
        ("app:-x", "tag '-x'"),
        (f"app@{DIGEST_A[:-1]}", "64 hex digits, this one has 63"),
        ("app@sha256:" + "A" * 64, "lower-case hex"),
        ("app@md5:" + "a" * 32, "'md5' is not supported"),
        ("a" * 64, "image ID"),
        ("localhost:5000/", "repository ''"),
        ("app//x", "repository 'app//x'"),
        ("app_-x", "repository"),
        ("ghcr.io/example/app:1:2", "tag '1:2'"),
        ("bad_host:5000/app", "registry 'bad_host:5000'"),
    ],
)
def test_invalid_reference_names_value_and_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)

    assert repr(text) in caught.value.message
    assert reason in caught.value.message


def test_uppercase_first_component_is_registry() -> None:
    # Docker treats an upper-case first component as a host name, like one with a dot.
    reference = parse_reference("Registry/app:1")

    assert reference.registry == "Registry"
    assert reference.repository == "app"


def test_name_length_limit() -> None:
    long_path = "/".join(["a" * 50] * 5)  # 254 characters, plus "docker.io/" is too long

    with pytest.raises(InvalidReferenceError, match="longer than 255"):
        parse_reference(long_path)


# Property tests.

_alphanumeric = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--"])
_path_component = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _alphanumeric,
    st.lists(st.tuples(_separator, _alphanumeric), max_size=2),
)
_host_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_registry = st.one_of(
    st.none(),
    st.just("docker.io"),
    st.just("index.docker.io"),
    st.just("localhost"),
    st.builds(lambda port: f"localhost:{port}", st.integers(1, 65535)),
    st.builds(lambda a, b: f"{a}.{b}", _host_label, _host_label),
    st.builds(lambda a, port: f"{a}:{port}", _host_label, st.integers(1, 65535)),
    st.builds(
        lambda a, b, c, d, port: f"{a}.{b}.{c}.{d}:{port}",
        *[st.integers(0, 255)] * 4,
        st.integers(1, 65535),
    ),
)
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")
_digest = st.builds(lambda hex_digits: "sha256:" + hex_digits, st.from_regex(r"\A[0-9a-f]{64}\Z"))


@st.composite
def _references(draw: st.DrawFn) -> tuple[str, str, str, str | None, str | None]:
    """Return (text, registry, repository, tag, digest) with the expected normal form."""
    registry = draw(_registry)
    components = draw(st.lists(_path_component, min_size=1, max_size=3))
    tag = draw(st.one_of(st.none(), _tag))
    digest = draw(st.one_of(st.none(), _digest))

    path = "/".join(components)
    text = f"{registry}/{path}" if registry else path
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"

    expected_registry = registry or "docker.io"
    first = components[0]
    hub_without_registry = registry is None and not (
        len(components) > 1 and ("." in first or first == "localhost")
    )
    if registry is None and not hub_without_registry:
        expected_registry = first
        path = "/".join(components[1:])
    if expected_registry == "index.docker.io":
        expected_registry = "docker.io"
    if expected_registry == "docker.io" and "/" not in path:
        path = "library/" + path
    return text, expected_registry, path, tag, digest


@given(_references())
def test_valid_compositions_round_trip(
    case: tuple[str, str, str, str | None, str | None],
) -> None:
    text, registry, repository, tag, digest = case

    reference = parse_reference(text)

    assert reference.registry == registry
    assert reference.repository == repository
    assert reference.tag == tag
    assert reference.digest == digest
    assert reference.original == text


@given(_references())
def test_normalized_form_reparses_to_itself(
    case: tuple[str, str, str, str | None, str | None],
) -> None:
    normalized = parse_reference(case[0]).normalized

    again = parse_reference(normalized)

    assert again.normalized == normalized
    assert again.original == normalized


@given(st.text(max_size=20), st.text(max_size=20))
def test_unresolved_variable_rejected(prefix: str, suffix: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(prefix + "${" + suffix)


@given(
    st.text(alphabet="abc/:.", max_size=10),
    st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003"]),
    st.text(alphabet="abc/:.", max_size=10),
)
def test_whitespace_rejected(prefix: str, space: str, suffix: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(prefix + space + suffix)
