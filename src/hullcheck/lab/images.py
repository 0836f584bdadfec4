"""Fixture images for the lab, built without ``docker build``.

Each image's root file system is written as a tar file in Python: OS release files, a
package database (dpkg or apk), language packages (npm ``package.json``, Python
``METADATA``) and Debian's static busybox so that containers can run. ``publish`` imports
the tar into the lab engine, tags it and pushes it to the lab registry.

The package inventories come from ``fixtures/advisories.yaml``, the file the Trivy DB
builder reads too; the build details come from ``fixtures/images.yaml``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import logging
import platform
import struct
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors
import yaml

from hullcheck.lab.services import BOOTSTRAP_HINT, Lab, LabError
from hullcheck.lab.trivydb import FixtureImage, FixturePackage, load_advisories

logger = logging.getLogger(__name__)

BUILD_SPEC_PATH = Path(__file__).with_name("fixtures") / "images.yaml"
BUSYBOX_PATH = Path("/bin/busybox")
"""Debian's busybox-static binary; a dynamically linked busybox cannot run in the images."""

IMAGE_KINDS = ("debian-base", "alpine-base", "node-app", "python-app")

REVISION_FILE = "/etc/hullcheck-lab/revision"

# Every file in a fixture image carries this modification time (2024-06-01 00:00 UTC), so
# the same inputs give the same layer digest.
_FILE_MTIME = 1717200000

_DPKG_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "i686": "i386"}
_DEFAULT_MAINTAINER = "Debian QA Group <packages@qa.debian.org>"


@dataclass(frozen=True)
class BuildSpec:
    """The parsed ``images.yaml``: what an image needs beyond its package inventory."""

    health_marker: str
    busybox_applets: tuple[str, ...]
    command: tuple[str, ...]
    healthcheck: Mapping[str, str]
    os_release: Mapping[str, str]
    dpkg: Mapping[str, Mapping[str, Any]]
    apk: Mapping[str, Mapping[str, Any]]
    npm: Mapping[str, Mapping[str, Any]]
    pip: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class PublishedImage:
    """An image pushed to the lab registry."""

    kind: str
    repository: str
    """Registry host and path, ``127.0.0.1:PORT/immich-app/immich-server``."""
    tag: str
    digest: str
    """The registry's manifest digest (``sha256:...``), as a ``@digest`` reference uses it."""
    image_id: str
    """The local image ID (``sha256:...``) in the lab engine."""

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def pinned_reference(self) -> str:
        """Tag and digest together, the way Immich pins its database image."""
        return f"{self.repository}:{self.tag}@{self.digest}"


@dataclass
class _Rootfs:
    """Files of an image root file system, written to a tar in path order."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    directories: dict[str, int] = field(default_factory=dict)

    def add_file(self, path: str, content: bytes | str, mode: int = 0o644) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        self.files[_image_path(path)] = (data, mode)

    def add_symlink(self, path: str, target: str) -> None:
        self.symlinks[_image_path(path)] = target

    def add_directory(self, path: str, mode: int = 0o755) -> None:
        self.directories[_image_path(path)] = mode

    def to_tar(self) -> bytes:
        directories = dict(self.directories)
        for path in (*self.files, *self.symlinks, *self.directories):
            for parent in PurePosixPath(path).parents:
                if str(parent) != ".":
                    directories.setdefault(str(parent), 0o755)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted({*directories, *self.files, *self.symlinks}):
                info = tarfile.TarInfo(path)
                info.mtime = _FILE_MTIME
                if path in self.files:
                    data, info.mode = self.files[path]
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                elif path in self.symlinks:
                    info.type = tarfile.SYMTYPE
                    info.linkname = self.symlinks[path]
                    info.mode = 0o777
                    archive.addfile(info)
                else:
                    info.type = tarfile.DIRTYPE
                    info.mode = directories[path]
                    archive.addfile(info)
        return buffer.getvalue()


# -- data files --------------------------------------------------------------------------------


@functools.cache
def load_build_spec(path: Path = BUILD_SPEC_PATH) -> BuildSpec:
    """Read ``images.yaml``.

    Raises:
        LabError: the file is missing, not YAML, or lacks a key.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return BuildSpec(
            health_marker=str(document["health_marker"]),
            busybox_applets=tuple(str(name) for name in document["busybox_applets"]),
            command=tuple(str(part) for part in document["command"]),
            healthcheck={key: str(value) for key, value in document["healthcheck"].items()},
            os_release={key: str(value) for key, value in document["os_release"].items()},
            dpkg=document["dpkg"],
            apk=document["apk"],
            npm=document["npm"],
            pip=document["pip"],
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise LabError(
            f"cannot read the fixture image spec {path}: {error!r}",
            hint="restore the file from the repository",
        ) from error


@functools.cache
def fixture_images() -> Mapping[str, FixtureImage]:
    """Return the fixture images of ``advisories.yaml`` by kind, base packages included."""
    return load_advisories().images


def fixture_image(kind: str) -> FixtureImage:
    """Return one fixture image's inventory and expected findings.

    Raises:
        LabError: ``kind`` is not a fixture image.
    """
    images = fixture_images()
    if kind not in images:
        raise LabError(
            f"unknown fixture image kind {kind!r}",
            hint=f"use one of {', '.join(sorted(images))}",
        )
    return images[kind]


# -- root file systems -------------------------------------------------------------------------


def build_image(
    kind: str,
    *,
    extra_files: Mapping[str, bytes | str] | None = None,
    package_versions: Mapping[str, str] | None = None,
    healthy: bool = True,
    revision: str | None = None,
) -> bytes:
    """Build the root file system of a fixture image as an uncompressed tar.

    ``package_versions`` replaces the version of named packages (any package manager), so
    an image can carry a fixed or a more vulnerable version. ``revision`` writes
    ``REVISION_FILE``; any change of content gives the pushed image a new digest.
    ``healthy=False`` leaves out the health marker, so the image's health check fails.
    ``extra_files`` maps absolute paths to content and wins over generated files.

    Raises:
        LabError: unknown kind or package name, or no static busybox on this machine.
    """
    spec = load_build_spec()
    image = _with_versions(fixture_image(kind), package_versions or {})
    rootfs = _Rootfs()

    _add_base_layout(rootfs, spec)
    _add_os_files(rootfs, spec, image)
    managers = {package.manager for package in image.packages}
    if "dpkg" in managers:
        rootfs.add_file("/var/lib/dpkg/status", dpkg_status(image.packages, spec))
    if "apk" in managers:
        rootfs.add_file("/lib/apk/db/installed", apk_installed(image.packages, spec))
    for package in image.packages:
        if package.manager == "npm":
            _add_node_module(rootfs, spec, image, package)
        elif package.manager == "pip":
            _add_python_distribution(rootfs, spec, image, package)

    if healthy:
        rootfs.add_file(spec.health_marker, "ok\n")
    if revision is not None:
        rootfs.add_file(REVISION_FILE, f"{revision}\n")
    for path, content in (extra_files or {}).items():
        rootfs.add_file(path, content)
    return rootfs.to_tar()


def _with_versions(image: FixtureImage, versions: Mapping[str, str]) -> FixtureImage:
    known = {package.name for package in image.packages}
    unknown = sorted(set(versions) - known)
    if unknown:
        raise LabError(
            f"package_versions names {', '.join(unknown)}, not installed in {image.name}",
            hint=f"choose from {', '.join(sorted(known))}",
        )
    packages = tuple(
        replace(package, version=versions.get(package.name, package.version))
        for package in image.packages
    )
    return replace(image, packages=packages)


def _add_base_layout(rootfs: _Rootfs, spec: BuildSpec) -> None:
    rootfs.add_file("/bin/busybox", read_static_busybox(), mode=0o755)
    for applet in spec.busybox_applets:
        rootfs.add_symlink(f"/bin/{applet}", "busybox")
    for directory in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/root", "/var/log", "/dev"):
        rootfs.add_directory(directory)
    rootfs.add_directory("/tmp", mode=0o1777)
    rootfs.add_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    rootfs.add_file("/etc/group", "root:x:0:\n")


def _add_os_files(rootfs: _Rootfs, spec: BuildSpec, image: FixtureImage) -> None:
    parts = image.os_version.split(".")
    template = spec.os_release.get(image.os_family)
    if template is None:
        raise LabError(
            f"images.yaml has no os_release for the OS family {image.os_family!r}",
            hint=f"add an os_release entry for {image.os_family} to {BUILD_SPEC_PATH}",
        )
    rootfs.add_file(
        "/etc/os-release",
        template.format(
            version=image.os_version,
            major=parts[0],
            major_minor=".".join(parts[:2]),
            codename=image.os_codename or "",
        ),
    )
    # Trivy detects Debian from /etc/debian_version and Alpine from /etc/alpine-release.
    if image.os_family == "debian":
        rootfs.add_file("/etc/debian_version", f"{image.os_version}\n")
    elif image.os_family == "alpine":
        rootfs.add_file("/etc/alpine-release", f"{image.os_version}\n")


def dpkg_status(packages: Iterable[FixturePackage], spec: BuildSpec) -> str:
    """Return ``/var/lib/dpkg/status`` text for the dpkg packages, fields in dpkg's order."""
    architecture = _DPKG_ARCHITECTURES.get(platform.machine(), "amd64")
    entries: list[str] = []
    for package in packages:
        if package.manager != "dpkg":
            continue
        extra = spec.dpkg.get(package.name, {})
        fields: list[tuple[str, object]] = [
            ("Package", package.name),
            ("Essential", extra.get("essential")),
            ("Status", "install ok installed"),
            ("Priority", extra.get("priority", "optional")),
            ("Section", extra.get("section", "misc")),
            ("Installed-Size", extra.get("installed_size", 1)),
            ("Maintainer", package.maintainer or _DEFAULT_MAINTAINER),
            ("Architecture", architecture),
            ("Multi-Arch", extra.get("multi_arch")),
            # dpkg writes Source only when it differs from the binary package name.
            ("Source", package.source if package.source != package.name else None),
            ("Version", package.version),
            ("Depends", extra.get("depends")),
            ("Description", extra.get("description", f"{package.name} for the hullcheck lab")),
            ("Homepage", extra.get("homepage")),
        ]
        entries.append("".join(f"{name}: {value}\n" for name, value in fields if value))
    return "\n".join(entries)


def apk_installed(packages: Iterable[FixturePackage], spec: BuildSpec) -> str:
    """Return ``/lib/apk/db/installed`` text for the apk packages."""
    architecture = platform.machine() or "x86_64"
    entries: list[str] = []
    for package in packages:
        if package.manager != "apk":
            continue
        extra = spec.apk.get(package.name, {})
        identity = f"{package.name}-{package.version}".encode()
        lines = [
            f"C:Q1{base64.b64encode(hashlib.sha1(identity).digest()).decode()}",
            f"P:{package.name}",
            f"V:{package.version}",
            f"A:{architecture}",
            f"S:{extra.get('size', 4096)}",
            f"I:{extra.get('size', 4096)}",
            f"T:{extra.get('description', package.name)}",
            f"U:{extra.get('url', 'https://alpinelinux.org/')}",
            f"L:{extra.get('license', 'MIT')}",
            f"o:{package.source or package.name}",
            f"m:{extra.get('maintainer', package.maintainer or 'Alpine Developers')}",
            f"t:{_FILE_MTIME}",
            f"c:{hashlib.sha1(identity + b'-commit').hexdigest()}",
        ]
        if extra.get("depends"):
            lines.append("D:" + " ".join(extra["depends"]))
        if extra.get("provides"):
            lines.append("p:" + " ".join(extra["provides"]))
        for directory, names in (extra.get("files") or {}).items():
            lines.append(f"F:{directory}")
            lines.extend(f"R:{name}" for name in names)
        entries.append("\n".join(lines) + "\n")
    return "\n".join(entries)


def _add_node_module(
    rootfs: _Rootfs, spec: BuildSpec, image: FixtureImage, package: FixturePackage
) -> None:
    if image.node_modules is None:
        raise LabError(f"fixture image {image.name} has npm packages but no node_modules path")
    extra = spec.npm.get(package.name, {})
    manifest = {
        "name": package.name,
        "version": package.version,
        "description": extra.get("description", ""),
        "license": extra.get("license", "MIT"),
        "main": "index.js",
    }
    directory = f"{image.node_modules}/{package.name}"
    rootfs.add_file(f"{directory}/package.json", json.dumps(manifest, indent=2) + "\n")
    rootfs.add_file(f"{directory}/index.js", "module.exports = {};\n")


def _add_python_distribution(
    rootfs: _Rootfs, spec: BuildSpec, image: FixtureImage, package: FixturePackage
) -> None:
    if image.site_packages is None:
        raise LabError(f"fixture image {image.name} has pip packages but no site_packages path")
    extra = spec.pip.get(package.name, {})
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {package.name}\n"
        f"Version: {package.version}\n"
        f"Summary: {extra.get('summary', package.name)}\n"
        f"License: {extra.get('license', 'MIT')}\n"
    )
    directory = f"{image.site_packages}/{package.name}-{package.version}.dist-info"
    rootfs.add_file(f"{directory}/METADATA", metadata)
    rootfs.add_file(f"{directory}/INSTALLER", "pip\n")


@functools.cache
def read_static_busybox(path: Path = BUSYBOX_PATH) -> bytes:
    """Return the busybox binary, checked to be statically linked.

    Raises:
        LabError: the file is missing or is not a static ELF executable.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LabError(f"cannot read {path}: {error.strerror}", hint=BOOTSTRAP_HINT) from error
    if _elf_interpreter(data) is not None:
        raise LabError(
            f"{path} is dynamically linked, so it cannot run inside the lab's fixture images",
            hint="install Debian's busybox-static package, which replaces busybox",
        )
    return data


def _elf_interpreter(data: bytes) -> str | None:
    """Return the PT_INTERP path of an ELF file, or None for a static executable.

    Raises:
        LabError: ``data`` is not an ELF file.
    """
    if data[:4] != b"\x7fELF":
        raise LabError("the busybox file is not an ELF executable", hint=BOOTSTRAP_HINT)
    is_64_bit = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if is_64_bit:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x2A)
    pt_interp = 3
    for index in range(count):
        header = phoff + index * entry_size
        (segment_type,) = struct.unpack_from(order + "I", data, header)
        if segment_type != pt_interp:
            continue
        if is_64_bit:
            offset, _, _, size = struct.unpack_from(order + "QQQQ", data, header + 8)
        else:
            offset, _, _, size = struct.unpack_from(order + "IIII", data, header + 4)
        return data[offset : offset + size].rstrip(b"\0").decode(errors="replace")
    return None


# -- engine and registry -----------------------------------------------------------------------


def image_changes(*, healthcheck: bool = True, spec: BuildSpec | None = None) -> list[str]:
    """Return the Dockerfile instructions that ``docker import`` applies to every image."""
    spec = spec or load_build_spec()
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"CMD {json.dumps(list(spec.command))}",
    ]
    if healthcheck:
        options = " ".join(
            f"--{name.replace('_', '-')}={value}" for name, value in spec.healthcheck.items()
        )
        test = json.dumps(["test", "-f", spec.health_marker])
        changes.append(f"HEALTHCHECK {options} CMD {test}")
    return changes


def import_image(
    lab: Lab, rootfs: bytes, repository: str, tag: str, *, changes: Sequence[str] = ()
) -> str:
    """Import a root file system tar into the lab engine as ``repository:tag``.

    Returns the new image ID.

    Raises:
        LabError: the engine rejected the import.
    """
    try:
        output = lab.client().api.import_image_from_data(
            rootfs, repository=repository, tag=tag, changes=list(changes)
        )
    except docker.errors.APIError as error:
        raise LabError(
            f"docker import of {repository}:{tag} failed: {error.explanation or error}"
        ) from error
    for line in str(output).splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if "error" in event:
            raise LabError(f"docker import of {repository}:{tag} failed: {event['error']}")
        status = str(event.get("status", ""))
        if status.startswith("sha256:"):
            return status
    raise LabError(f"docker import of {repository}:{tag} returned no image ID: {output!r}")


def push_image(lab: Lab, repository: str, tag: str) -> str:
    """Push ``repository:tag`` from the lab engine; return the registry's manifest digest.

    Raises:
        LabError: the push failed or reported no digest.
    """
    digest: str | None = None
    try:
        for event in lab.client().api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise LabError(f"docker push of {repository}:{tag} failed: {event['error']}")
            aux = event.get("aux") or {}
            if "Digest" in aux:
                digest = str(aux["Digest"])
    except docker.errors.APIError as error:
        raise LabError(
            f"docker push of {repository}:{tag} failed: {error.explanation or error}"
        ) from error
    if digest is None:
        raise LabError(f"docker push of {repository}:{tag} reported no manifest digest")
    return digest


def publish(
    lab: Lab,
    kind: str,
    repository: str,
    tag: str,
    *,
    extra_files: Mapping[str, bytes | str] | None = None,
    package_versions: Mapping[str, str] | None = None,
    healthy: bool = True,
    healthcheck: bool = True,
    revision: str | None = None,
    extra_changes: Sequence[str] = (),
) -> PublishedImage:
    """Build a fixture image, import it as ``REGISTRY/repository:tag`` and push it.

    ``repository`` is a path such as ``immich-app/immich-server``; the lab registry's host
    is put in front unless it is already there. The build options are those of
    ``build_image``. ``healthcheck`` adds an image HEALTHCHECK that tests for the health
    marker, and ``extra_changes`` are more Dockerfile instructions for ``docker import``.
    Publishing again under the same tag moves the tag to a new digest.
    """
    prefix = f"{lab.registry}/"
    full_repository = repository if repository.startswith(prefix) else prefix + repository
    rootfs = build_image(
        kind,
        extra_files=extra_files,
        package_versions=package_versions,
        healthy=healthy,
        revision=revision,
    )
    changes = [*image_changes(healthcheck=healthcheck), *extra_changes]
    image_id = import_image(lab, rootfs, full_repository, tag, changes=changes)
    digest = push_image(lab, full_repository, tag)
    published = PublishedImage(kind, full_repository, tag, digest, image_id)
    logger.info("published %s as %s (%s)", kind, published.pinned_reference, image_id)
    return published


def _image_path(path: str) -> str:
    """Return a tar member name for an absolute image path: no leading slash, normalised."""
    pure = PurePosixPath("/", path)
    if ".." in pure.parts:
        raise LabError(f"image path {path!r} contains '..'", hint="give an absolute path")
    return str(pure.relative_to("/"))
