"""Properties of interpolation and image references that the discovery tests do not state.

tests/discovery already checks that a normalised reference parses back to itself, that a
reference containing ``${`` is rejected, and the interpolation operators one by one.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from hullcheck.discovery.interpolation import InterpolationError, substitute
from hullcheck.discovery.references import parse_reference
from hullcheck.registry import matching_digests

# Text made mostly of the characters that interpolation cares about.
_template = st.text(alphabet="${}:-?+AB_x1 /.", max_size=30).filter(lambda text: "$$" not in text)
_values = st.dictionaries(
    st.sampled_from(["A", "B", "A_1", "x"]),
    st.text(st.characters(blacklist_characters="$"), max_size=6),
)
_component = st.from_regex(r"\A[a-z0-9]+(?:[._-][a-z0-9]+)?\Z")
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}\Z")
_digest = st.from_regex(r"\Asha256:[0-9a-f]{64}\Z")


@given(_template, _values)
def test_interpolation_leaves_no_dollar(text: str, variables: dict[str, str]) -> None:
    """Without ``$$`` escapes and ``$`` in values, a result has no ``$`` at all.

    Every other ``$`` either starts a substitution or raises, so no ``${`` can reach a
    registry or Trivy as part of an image name.
    """
    try:
        result = substitute(text, variables)
    except InterpolationError:
        return

    assert "$" not in result


@given(st.lists(_component, min_size=1, max_size=3), _tag)
def test_hub_spellings_normalise_alike(components: list[str], tag: str) -> None:
    # A first component with a dot names a registry host, as in Docker, so it is no Hub path.
    assume(len(components) == 1 or "." not in components[0])
    path = "/".join(components)
    full_path = path if len(components) > 1 else f"library/{path}"
    spellings = [
        f"{path}:{tag}",
        f"docker.io/{path}:{tag}",
        f"index.docker.io/{full_path}:{tag}",
        f"docker.io/{full_path}:{tag}",
    ]
    if len(components) == 1:
        spellings.append(f"library/{path}:{tag}")

    normalised = {parse_reference(spelling).normalized for spelling in spellings}

    assert normalised == {f"docker.io/{full_path}:{tag}"}


@given(
    st.sampled_from(["", "docker.io/", "ghcr.io/", "127.0.0.1:5000/", "registry.lan:8443/"]),
    st.lists(_component, min_size=1, max_size=3),
    _tag,
    _digest,
)
def test_repo_digest_matches_its_reference(
    registry: str, components: list[str], tag: str, digest: str
) -> None:
    """Docker writes RepoDigests in its short form; the update check must still match them.

    A miss would report "update available" for an image that is current.
    """
    # Docker Hub namespaces contain no dot, and elsewhere a dotted first component is a host.
    hub = registry in ("", "docker.io/")
    assume(not hub or len(components) == 1 or "." not in components[0])
    path = "/".join(components)
    reference = parse_reference(f"{registry}{path}:{tag}")
    short_name = reference.name.removeprefix("docker.io/").removeprefix("library/")

    for repo_digest in (f"{reference.name}@{digest}", f"{short_name}@{digest}"):
        assert matching_digests(reference, [repo_digest]) == (digest,), repo_digest
