"""Package inventories of the benchmark's home lab, generated deterministically.

Every image of the estate gets a Debian 12 (or Alpine 3.22) package database with a few
hundred packages. The Node and Python apps add 80 to 1,600 language packages, of the order
that Immich (npm) and Paperless-ngx (Python) ship; these sizes are estimates, not counts
taken from those images. The same seed labels give the same packages and versions on every
run, so the Trivy DB built from the estate's inventory always matches the images.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hullcheck.lab.trivydb import FixturePackage

DEBIAN_MAINTAINERS = (
    "Debian QA Group <packages@qa.debian.org>",
    "Debian Security Team <team@security.debian.org>",
    "Debian Perl Group <pkg-perl-maintainers@lists.alioth.debian.org>",
    "Debian Python Team <team+python@tracker.debian.org>",
    "Debian Javascript Maintainers <pkg-javascript-devel@lists.alioth.debian.org>",
    "Debian X Strike Force <debian-x@lists.debian.org>",
    "GNOME Maintainers <pkg-gnome-maintainers@lists.alioth.debian.org>",
)
"""Debian-like maintainers: Trivy skips dpkg packages of third-party maintainers."""

# Real Debian source package names; generated sources reuse them with a numeric suffix.
# zlib, openssl and glibc are left out because the lab's fixture packages use them.
_DEBIAN_STEMS = (
    "acl",
    "adduser",
    "apt",
    "attr",
    "audit",
    "bash",
    "bsdutils",
    "bzip2",
    "ca-certificates",
    "cdebconf",
    "coreutils",
    "curl",
    "cyrus-sasl2",
    "dash",
    "db5.3",
    "debconf",
    "debian-archive-keyring",
    "diffutils",
    "dpkg",
    "e2fsprogs",
    "expat",
    "findutils",
    "fontconfig",
    "freetype",
    "gcc-12",
    "gdbm",
    "gmp",
    "gnupg2",
    "gnutls28",
    "grep",
    "gzip",
    "harfbuzz",
    "hostname",
    "icu",
    "init-system-helpers",
    "jbigkit",
    "keyutils",
    "krb5",
    "lcms2",
    "libbsd",
    "libcap-ng",
    "libcap2",
    "libdeflate",
    "libffi",
    "libgcrypt20",
    "libgpg-error",
    "libidn2",
    "libjpeg-turbo",
    "libmd",
    "libpng1.6",
    "libpsl",
    "libseccomp",
    "libselinux",
    "libsemanage",
    "libsepol",
    "libssh2",
    "libtasn1-6",
    "libtirpc",
    "libunistring",
    "libwebp",
    "libx11",
    "libxau",
    "libxcb",
    "libxdmcp",
    "libxext",
    "libxml2",
    "libxslt",
    "libzstd",
    "lz4",
    "mawk",
    "ncurses",
    "nettle",
    "nghttp2",
    "openldap",
    "p11-kit",
    "pam",
    "pcre2",
    "perl",
    "procps",
    "readline",
    "rtmpdump",
    "sed",
    "shadow",
    "sqlite3",
    "systemd",
    "sysvinit",
    "tar",
    "tiff",
    "tzdata",
    "usrmerge",
    "util-linux",
    "xz-utils",
    "brotli",
    "libevent",
    "libedit",
    "libnsl",
    "libxcrypt",
    "libyaml",
    "jansson",
    "pcre3",
    "libgd2",
    "libheif",
    "libraw",
    "imagemagick",
    "ffmpeg",
    "libvpx",
    "x264",
    "x265",
    "opus",
    "libvorbis",
    "flac",
    "lame",
    "libass",
    "fribidi",
    "libsndfile",
    "postgresql-15",
    "mariadb",
    "redis",
    "nginx",
    "php8.2",
    "python3.11",
    "nodejs",
    "libuv1",
    "c-ares",
    "icu-le-hb",
    "libgcc-s",
    "libstdc++",
    "openjpeg2",
    "giflib",
    "libexif",
    "poppler",
    "ghostscript",
    "tesseract",
    "leptonlib",
    "unpaper",
    "qpdf",
    "pngquant",
    "libwmf",
    "libzip",
    "oniguruma",
    "libsodium",
    "argon2",
    "libonig",
)

_NPM_WORDS = (
    "array",
    "async",
    "babel",
    "buffer",
    "chalk",
    "color",
    "core",
    "debug",
    "deep",
    "define",
    "dom",
    "es",
    "event",
    "express",
    "fast",
    "file",
    "fs",
    "glob",
    "graceful",
    "has",
    "http",
    "is",
    "json",
    "js",
    "lodash",
    "lru",
    "make",
    "merge",
    "mime",
    "minimatch",
    "ms",
    "node",
    "object",
    "once",
    "parse",
    "path",
    "picomatch",
    "plugin",
    "postcss",
    "promise",
    "proxy",
    "qs",
    "react",
    "readable",
    "regex",
    "resolve",
    "safe",
    "semver",
    "signal",
    "source",
    "stream",
    "string",
    "strip",
    "supports",
    "through",
    "to",
    "type",
    "uri",
    "util",
    "web",
    "which",
    "ws",
    "yargs",
    "zod",
)
_NPM_SCOPES = ("babel", "types", "nestjs", "aws-sdk", "smithy", "opentelemetry", "img-ly")

_PIP_WORDS = (
    "aio",
    "async",
    "attrs",
    "auth",
    "boto",
    "cache",
    "celery",
    "click",
    "core",
    "crypto",
    "django",
    "dns",
    "flask",
    "http",
    "idna",
    "image",
    "jinja",
    "json",
    "kombu",
    "lxml",
    "markup",
    "numpy",
    "oauth",
    "ocr",
    "pdf",
    "pillow",
    "proto",
    "py",
    "redis",
    "regex",
    "requests",
    "rich",
    "sql",
    "tika",
    "torch",
    "tz",
    "url",
    "uvicorn",
    "watch",
    "whoosh",
)

_DPKG_VERSION = re.compile(
    r"^(?P<epoch>\d+:)?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<rest>-.*)$"
)
_SEMVER = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<rest>.*)$")


def seeded(label: str) -> random.Random:
    """Return a generator whose sequence depends only on ``label``."""
    return random.Random(f"hullcheck-bench:{label}")


def bump_version(version: str, delta: int) -> str:
    """Return ``version`` with its patch number moved by ``delta`` (Debian, apk or semver).

    Raises:
        ValueError: the version does not have the generated ``X.Y.Z`` shape, or the patch
            number would drop below 0.
    """
    match = _DPKG_VERSION.match(version) or _SEMVER.match(version)
    if match is None:
        raise ValueError(f"version {version!r} has no X.Y.Z part to bump")
    patch = int(match["patch"]) + delta
    if patch < 0:
        raise ValueError(f"version {version!r} cannot move its patch number by {delta}")
    epoch = match.groupdict().get("epoch") or ""
    return f"{epoch}{match['major']}.{match['minor']}.{patch}{match['rest']}"


@dataclass(frozen=True)
class Inventory:
    """The packages of one image layer: what it adds to the package databases and trees."""

    dpkg: tuple[FixturePackage, ...] = ()
    apk: tuple[FixturePackage, ...] = ()
    npm: tuple[tuple[str, FixturePackage], ...] = ()
    """(directory under the node_modules root, package); nested copies have longer paths."""
    pip: tuple[FixturePackage, ...] = ()


@dataclass
class EstateInventory:
    """Every installed (source) package name with the versions found in the estate."""

    debian: dict[str, set[str]] = field(default_factory=dict)
    """Debian source package -> installed versions."""
    alpine: dict[str, set[str]] = field(default_factory=dict)
    """apk origin -> installed versions."""
    npm: dict[str, set[str]] = field(default_factory=dict)
    pip: dict[str, set[str]] = field(default_factory=dict)

    def add(self, inventory: Inventory) -> None:
        for package in inventory.dpkg:
            self.debian.setdefault(package.source or package.name, set()).add(package.version)
        for package in inventory.apk:
            self.alpine.setdefault(package.source or package.name, set()).add(package.version)
        for _, package in inventory.npm:
            self.npm.setdefault(package.name, set()).add(package.version)
        for package in inventory.pip:
            self.pip.setdefault(package.name, set()).add(package.version)


def debian_packages(label: str, sources: int) -> tuple[FixturePackage, ...]:
    """Generate ``sources`` Debian source packages with one to three binaries each."""
    rng = seeded(f"dpkg:{label}")
    packages: list[FixturePackage] = []
    seen: set[str] = set()
    offset = rng.randrange(len(_DEBIAN_STEMS))
    for index in range(sources):
        position = offset + index
        stem = _DEBIAN_STEMS[position % len(_DEBIAN_STEMS)]
        round_number = position // len(_DEBIAN_STEMS)
        source = stem if round_number == 0 and label == "base" else f"{stem}-{label}{index}"
        epoch = "1:" if rng.random() < 0.1 else ""
        security = f"+deb12u{rng.randint(1, 3)}" if rng.random() < 0.2 else ""
        version = (
            f"{epoch}{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(1, 20)}"
            f"-{rng.randint(1, 5)}{security}"
        )
        maintainer = rng.choice(DEBIAN_MAINTAINERS)
        base_name = source.removeprefix("lib")
        candidates = (
            source,
            f"lib{base_name}{version[0] if not epoch else '1'}",
            f"{source}-common",
        )
        for name in candidates[: rng.choice((1, 1, 2, 2, 3))]:
            if name in seen:
                continue
            seen.add(name)
            packages.append(FixturePackage("dpkg", name, version, source, maintainer))
    return tuple(packages)


def alpine_packages(label: str, count: int) -> tuple[FixturePackage, ...]:
    """Generate ``count`` apk packages; every package is its own origin."""
    rng = seeded(f"apk:{label}")
    packages: list[FixturePackage] = []
    for index in range(count):
        stem = _DEBIAN_STEMS[(index * 7) % len(_DEBIAN_STEMS)]
        name = stem if label == "base" and index < len(_DEBIAN_STEMS) else f"{stem}-{label}{index}"
        version = (
            f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(1, 20)}-r{rng.randint(0, 6)}"
        )
        packages.append(FixturePackage("apk", name, version, name))
    return tuple(packages)


def npm_pool(size: int = 3200) -> tuple[FixturePackage, ...]:
    """Return the npm packages all Node images draw from, as real apps share dependencies."""
    rng = seeded("npm-pool")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < size:
        first, second = rng.sample(_NPM_WORDS, 2)
        name = f"{first}-{second}"
        if rng.random() < 0.15:
            name = f"@{rng.choice(_NPM_SCOPES)}/{name}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(
        FixturePackage(
            "npm", name, f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(1, 25)}"
        )
        for name in names
    )


def pip_pool(size: int = 700) -> tuple[FixturePackage, ...]:
    """Return the Python distributions all Python images draw from (normalised names)."""
    rng = seeded("pip-pool")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < size:
        first, second = rng.sample(_PIP_WORDS, 2)
        name = f"{first}-{second}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(
        FixturePackage(
            "pip", name, f"{rng.randint(0, 6)}.{rng.randint(0, 30)}.{rng.randint(1, 25)}"
        )
        for name in names
    )


def npm_tree(
    label: str, count: int, *, revision: int = 1
) -> tuple[tuple[str, FixturePackage], ...]:
    """Pick ``count`` npm packages: nine in ten at the top, the rest nested at another version.

    A later ``revision`` raises the patch version of the first package, as an app release
    that bumps one dependency.
    """
    rng = seeded(f"npm:{label}")
    pool = npm_pool()
    top_count = count - count // 10
    chosen = rng.sample(pool, top_count)
    tree: list[tuple[str, FixturePackage]] = [(package.name, package) for package in chosen]
    for index in range(count - top_count):
        parent = chosen[index % len(chosen)]
        nested = chosen[(index * 7 + 3) % len(chosen)]
        if nested.name == parent.name:
            nested = chosen[(index * 7 + 4) % len(chosen)]
        version = f"{int(nested.version.split('.')[0]) + 1}.0.{index % 9 + 1}"
        tree.append(
            (
                f"{parent.name}/node_modules/{nested.name}",
                FixturePackage("npm", nested.name, version),
            )
        )
    if revision > 1 and tree:
        path, first = tree[0]
        tree[0] = (
            path,
            FixturePackage("npm", first.name, bump_version(first.version, revision - 1)),
        )
    return tuple(tree)


def pip_set(label: str, count: int, *, revision: int = 1) -> tuple[FixturePackage, ...]:
    """Pick ``count`` Python distributions; a later ``revision`` bumps the first one."""
    rng = seeded(f"pip:{label}")
    chosen = list(rng.sample(pip_pool(), count))
    if revision > 1 and chosen:
        first = chosen[0]
        chosen[0] = FixturePackage("pip", first.name, bump_version(first.version, revision - 1))
    return tuple(chosen)


def merge_dpkg(*layers: Iterable[FixturePackage]) -> tuple[FixturePackage, ...]:
    """Return the dpkg database after installing ``layers`` in order (later names win)."""
    merged: dict[str, FixturePackage] = {}
    for layer in layers:
        for package in layer:
            merged[package.name] = package
    return tuple(sorted(merged.values(), key=lambda package: package.name))


def sample_names(names: Sequence[str], share: float, label: str) -> list[str]:
    """Pick about ``share`` of ``names`` (sorted first, so the pick is reproducible)."""
    ordered = sorted(names)
    count = round(len(ordered) * share)
    return seeded(label).sample(ordered, count) if count else []
