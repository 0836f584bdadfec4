"""Parse image references with the grammar and normalisation rules of Docker.

The grammar is the one of ``github.com/distribution/reference`` (``regexp.go``), and the
normalisation follows its ``ParseNormalizedNamed``:

- The first path component is a registry only when it contains ``.`` or ``:``, is
  ``localhost``, or contains an upper-case letter.
- ``index.docker.io`` becomes ``docker.io``, and a single-component Docker Hub name
  gets the ``library/`` prefix.
- A tag is a ``:`` after the last ``/``, so ``localhost:5000/app`` has no tag.
- The repository path must be lower case, and a tag is 1 to 128 characters of
  ``[A-Za-z0-9_.-]`` that do not start with ``.`` or ``-``.
- A digest must be ``sha256``, ``sha384`` or ``sha512`` with the exact number of
  lower-case hex digits, as ``github.com/opencontainers/go-digest`` validates it.
"""

from __future__ import annotations

import re
from typing import NoReturn

from hullcheck.discovery.models import DOCKER_HUB, ImageReference, InvalidReferenceError

LEGACY_DOCKER_HUB = "index.docker.io"
OFFICIAL_REPOSITORY_PREFIX = "library/"
NAME_MAX_LENGTH = 255
"""Maximum length of ``registry/repository``, from the distribution reference package."""

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""Digest algorithms that Docker accepts and the length of their hex encoding."""
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")


def parse_reference(text: str) -> ImageReference:
    """Parse ``text`` as Docker would and return it normalised.

    Raises InvalidReferenceError naming the value and the reason when Docker would
    reject it.
    """
    _reject_obvious_mistakes(text)
    if _IDENTIFIER_RE.fullmatch(text):
        _fail(text, "a bare 64-character hex string is an image ID, not a repository name")

    registry, remainder = _split_registry(text)
    repository_text = remainder.split(":", 1)[0].split("@", 1)[0]
    if repository_text.lower() != repository_text:
        _fail(text, f"the repository name {repository_text!r} must be lower case")

    match = _REFERENCE_RE.fullmatch(f"{registry}/{remainder}")
    if match is None:
        _fail(text, _explain_mismatch(registry, remainder))
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_MAX_LENGTH:
        _fail(text, f"the name is longer than {NAME_MAX_LENGTH} characters")
    if digest is not None:
        _validate_digest(text, digest)

    repository = name[len(registry) + 1 :]
    return ImageReference(
        original=text,
        registry=registry,
        repository=repository,
        tag=tag,
        digest=digest,
    )


def _reject_obvious_mistakes(text: str) -> None:
    if not text:
        _fail(text, "the value is empty")
    if "${" in text:
        _fail(text, "it contains an unresolved ${...} variable; interpolate it first")
    if any(character.isspace() for character in text):
        _fail(text, "it contains whitespace")


def _split_registry(text: str) -> tuple[str, str]:
    """Split off the registry the way Docker's ``splitDockerDomain`` does."""
    first, slash, rest = text.partition("/")
    is_registry = bool(slash) and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    if is_registry:
        registry, remainder = first, rest
    else:
        registry, remainder = DOCKER_HUB, text
    if registry == LEGACY_DOCKER_HUB:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in remainder:
        remainder = OFFICIAL_REPOSITORY_PREFIX + remainder
    return registry, remainder


def _explain_mismatch(registry: str, remainder: str) -> str:
    """Name the part of a reference that breaks the grammar."""
    if not _DOMAIN_RE.fullmatch(registry):
        return f"the registry {registry!r} is not a valid host[:port]"
    path, at, digest = remainder.partition("@")
    path, colon, tag = path.partition(":")
    if not _PATH_RE.fullmatch(path):
        return (
            f"the repository {path!r} is not valid: use lower-case letters and digits, "
            "separated by '/', '.', '_', '__' or '-'"
        )
    if colon and not tag:
        return "the tag after ':' is empty"
    if colon and not re.fullmatch(_TAG, tag):
        return (
            f"the tag {tag!r} is not valid: at most 128 characters of letters, digits, "
            "'_', '.' and '-', not starting with '.' or '-'"
        )
    if at and not re.fullmatch(_DIGEST, digest):
        return f"the digest {digest!r} is not valid: expected 'sha256:' and 64 hex digits"
    return "it does not match the reference grammar name[:tag][@digest]"


def _validate_digest(text: str, digest: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    expected_length = DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        supported = ", ".join(DIGEST_HEX_LENGTHS)
        _fail(text, f"the digest algorithm {algorithm!r} is not supported (use {supported})")
    if len(encoded) != expected_length:
        _fail(
            text,
            f"a {algorithm} digest has {expected_length} hex digits, this one has {len(encoded)}",
        )
    if not _LOWER_HEX_RE.fullmatch(encoded):
        _fail(text, "the digest must be written in lower-case hex")


def _fail(text: str, reason: str) -> NoReturn:
    raise InvalidReferenceError(
        f"invalid image reference {text!r}: {reason}",
        hint="write the image as [registry/]repository[:tag][@sha256:digest]",
    )
