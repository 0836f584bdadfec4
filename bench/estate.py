"""Build the benchmark's home lab on the lab engine: shared base layers, apps, Compose.

Base images are imported from tar files written here: Debian 12 with about 300 dpkg
packages, and Alpine 3.22. The Node and Python runtimes and every app are built with
``docker build`` from a Dockerfile of ``FROM base``, one ``COPY`` and a ``LABEL``, so apps
of one runtime share its layers in the engine and in the registry as real images do. Each
app image is pushed to the lab registry and runs as one service of a Compose project.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import docker.errors

from bench.inventory import (
    EstateInventory,
    Inventory,
    alpine_packages,
    debian_packages,
    merge_dpkg,
    npm_tree,
    pip_set,
    seeded,
)
from hullcheck.lab.images import (
    apk_installed,
    dpkg_status,
    fixture_image,
    image_changes,
    import_image,
    load_build_spec,
    push_image,
    read_static_busybox,
)
from hullcheck.lab.services import Lab
from hullcheck.lab.trivydb import FixturePackage

logger = logging.getLogger(__name__)

PROJECT = "homelab"
"""Default Compose project name, and the name of the directory holding the compose file."""
COMPOSE_FILE_NAME = "docker-compose.yml"
DEBIAN_VERSION = "12.7"
ALPINE_VERSION = "3.22.1"
SITE_PACKAGES = "usr/local/lib/python3.11/site-packages"
NODE_MODULES = "app/node_modules"
MIB = 1024 * 1024

# Every file carries this modification time (2024-06-01 00:00 UTC).
_FILE_MTIME = 1717200000


class BenchError(RuntimeError):
    """Building or changing the benchmark estate failed."""


@dataclass(frozen=True)
class AppSpec:
    """One self-hosted app of the estate and the size of what it ships."""

    service: str
    base: str
    """``debian``, ``node``, ``python`` or ``alpine``."""
    tag: str = "latest"
    npm: int = 0
    pip: int = 0
    extra_packages: int = 0
    """Debian source packages (or apk packages) the app's Dockerfile installs."""
    binary_mib: int = 2
    """Size of the app's own binary or bundle, incompressible, in MiB."""


APPS: tuple[AppSpec, ...] = (
    AppSpec("immich-server", "node", "release", npm=1450, extra_packages=6, binary_mib=6),
    AppSpec("paperless-ngx", "python", "latest", pip=180, extra_packages=10, binary_mib=5),
    AppSpec("nextcloud", "debian", "29", extra_packages=40, binary_mib=10),
    AppSpec("gitea", "alpine", "1.22", extra_packages=12, binary_mib=6),
    AppSpec(
        "immich-machine-learning", "python", "release", pip=220, extra_packages=4, binary_mib=8
    ),
    AppSpec("jellyfin", "debian", "latest", extra_packages=25, binary_mib=12),
    AppSpec("uptime-kuma", "node", "1", npm=950, extra_packages=3, binary_mib=3),
    AppSpec("vaultwarden", "debian", "latest", extra_packages=5, binary_mib=4),
    AppSpec("n8n", "node", "latest", npm=1600, extra_packages=2, binary_mib=4),
    AppSpec("mealie", "python", "latest", pip=150, extra_packages=3, binary_mib=3),
    AppSpec("postgres", "debian", "16", extra_packages=30, binary_mib=6),
    AppSpec("redis", "debian", "7", extra_packages=2, binary_mib=2),
    AppSpec("homepage", "node", "latest", npm=700, binary_mib=2),
    AppSpec("adguardhome", "alpine", "latest", extra_packages=3, binary_mib=5),
    AppSpec("mariadb", "debian", "11", extra_packages=28, binary_mib=8),
    AppSpec("nginx-proxy-manager", "node", "latest", npm=600, extra_packages=8, binary_mib=3),
    AppSpec("changedetection", "python", "latest", pip=120, extra_packages=6, binary_mib=2),
    AppSpec("syncthing", "alpine", "latest", extra_packages=2, binary_mib=4),
    AppSpec("freshrss", "debian", "latest", extra_packages=35, binary_mib=3),
    AppSpec("audiobookshelf", "node", "latest", npm=800, extra_packages=4, binary_mib=3),
    AppSpec("calibre-web", "python", "latest", pip=90, extra_packages=20, binary_mib=4),
    AppSpec("grafana", "debian", "latest", extra_packages=3, binary_mib=8),
    AppSpec("node-red", "node", "latest", npm=1100, extra_packages=2, binary_mib=3),
    AppSpec("esphome", "python", "latest", pip=160, extra_packages=8, binary_mib=4),
    AppSpec("miniflux", "alpine", "latest", extra_packages=1, binary_mib=2),
    AppSpec("wikijs", "node", "2", npm=1300, extra_packages=2, binary_mib=4),
    AppSpec("tandoor", "python", "latest", pip=130, extra_packages=10, binary_mib=3),
    AppSpec("home-assistant", "python", "stable", pip=250, extra_packages=15, binary_mib=6),
    AppSpec("ntfy", "alpine", "latest", extra_packages=1, binary_mib=2),
    AppSpec("linkding", "python", "latest", pip=80, extra_packages=4, binary_mib=2),
)
"""The 30 apps, ordered so that any prefix of four or more covers every base."""


@dataclass(frozen=True)
class BaseImage:
    """A local base image (never pushed) and the package databases apps inherit from it."""

    kind: str
    name: str
    """Local reference, such as ``bench/debian:12``."""
    image_id: str
    dpkg: tuple[FixturePackage, ...] = ()
    apk: tuple[FixturePackage, ...] = ()


@dataclass(frozen=True)
class AppImage:
    """One revision of an app, built and pushed to the lab registry."""

    spec: AppSpec
    repository: str
    """``127.0.0.1:PORT/homelab/SERVICE``."""
    revision: int
    image_id: str
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.spec.tag}"


@dataclass
class Estate:
    """The built home lab: base images, the apps' current revisions and the compose project."""

    lab: Lab
    directory: Path
    bases: dict[str, BaseImage]
    apps: list[AppImage]
    inventory: EstateInventory
    layers: dict[str, Inventory] = field(default_factory=dict)
    """Package inventory of each base, runtime and app layer, by layer name."""

    @property
    def compose_file(self) -> Path:
        return self.directory / COMPOSE_FILE_NAME

    @property
    def project(self) -> str:
        """The Compose project name: the directory's name, as Compose and hullcheck derive it."""
        return self.directory.name

    def app(self, service: str) -> AppImage:
        for app in self.apps:
            if app.spec.service == service:
                return app
        raise BenchError(f"no app named {service!r} in the estate")


@dataclass(frozen=True)
class Release:
    """A new revision pushed under an app's tag, not yet pulled by the engine."""

    old: AppImage
    new: AppImage


# -- file trees --------------------------------------------------------------------------------


@dataclass
class _Tree:
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    directories: dict[str, int] = field(default_factory=dict)

    def add(self, path: str, content: bytes | str, mode: int = 0o644) -> None:
        data = content.encode() if isinstance(content, str) else content
        self.files[path.lstrip("/")] = (data, mode)

    def to_tar(self, prefix: str = "") -> bytes:
        directories = {f"{prefix}{path}": mode for path, mode in self.directories.items()}
        entries = {f"{prefix}{path}": value for path, value in self.files.items()}
        links = {f"{prefix}{path}": target for path, target in self.symlinks.items()}
        for path in (*entries, *links, *directories):
            for parent in PurePosixPath(path).parents:
                if str(parent) != ".":
                    directories.setdefault(str(parent), 0o755)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted({*directories, *entries, *links}):
                info = tarfile.TarInfo(path)
                info.mtime = _FILE_MTIME
                if path in entries:
                    data, info.mode = entries[path]
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                elif path in links:
                    info.type = tarfile.SYMTYPE
                    info.linkname = links[path]
                    info.mode = 0o777
                    archive.addfile(info)
                else:
                    info.type = tarfile.DIRTYPE
                    info.mode = directories[path]
                    archive.addfile(info)
        return buffer.getvalue()


def _filler(label: str, mebibytes: int) -> bytes:
    """Incompressible bytes standing in for a binary, so layers have realistic weight."""
    return seeded(f"filler:{label}").randbytes(mebibytes * MIB)


def _base_layout(tree: _Tree) -> None:
    spec = load_build_spec()
    tree.add("bin/busybox", read_static_busybox(), 0o755)
    for applet in spec.busybox_applets:
        tree.symlinks[f"bin/{applet}"] = "busybox"
    for directory in ("usr/bin", "usr/sbin", "usr/local/bin", "root", "var/log", "dev"):
        tree.directories[directory] = 0o755
    tree.directories["tmp"] = 0o1777
    tree.add("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    tree.add("etc/group", "root:x:0:\n")


def _os_release(family: str, version: str, codename: str = "") -> str:
    parts = version.split(".")
    template = load_build_spec().os_release[family]
    return template.format(
        version=version, major=parts[0], major_minor=".".join(parts[:2]), codename=codename
    )


def _add_npm(tree: _Tree, root: str, packages: Iterable[tuple[str, FixturePackage]]) -> None:
    for directory, package in packages:
        manifest = {"name": package.name, "version": package.version, "license": "MIT"}
        tree.add(f"{root}/{directory}/package.json", json.dumps(manifest, indent=2) + "\n")
        tree.add(f"{root}/{directory}/index.js", "module.exports = {};\n")


def _add_pip(tree: _Tree, packages: Iterable[FixturePackage]) -> None:
    for package in packages:
        directory = f"{SITE_PACKAGES}/{package.name.replace('-', '_')}-{package.version}.dist-info"
        tree.add(
            f"{directory}/METADATA",
            f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {package.version}\n"
            "License: MIT\n",
        )
        tree.add(f"{directory}/INSTALLER", "pip\n")


# -- engine operations -------------------------------------------------------------------------


def _build(lab: Lab, base: str, tree: _Tree, tag: str, title: str) -> str:
    """Build ``FROM base`` plus one COPY layer holding ``tree``; return the image ID."""
    dockerfile = (
        f"FROM {base}\nCOPY layer/ /\nLABEL org.opencontainers.image.title={json.dumps(title)}\n"
    )
    content = io.BytesIO(_context_tar(dockerfile, tree))
    try:
        image, _ = lab.client().images.build(
            fileobj=content, custom_context=True, tag=tag, rm=True, forcerm=True, pull=False
        )
    except (docker.errors.BuildError, docker.errors.APIError) as error:
        raise BenchError(f"docker build of {tag} FROM {base} failed: {error}") from error
    return str(image.id)


def _context_tar(dockerfile: str, tree: _Tree) -> bytes:
    merged = _Tree(
        files={"Dockerfile": (dockerfile.encode(), 0o644)}
        | {f"layer/{path}": value for path, value in tree.files.items()},
        symlinks={f"layer/{path}": target for path, target in tree.symlinks.items()},
        directories={f"layer/{path}": mode for path, mode in tree.directories.items()},
    )
    return merged.to_tar()


def _import(lab: Lab, tree: _Tree, repository: str, tag: str) -> str:
    # No HEALTHCHECK: 30 containers probing every second would load a 2-core machine and
    # distort every timing.
    return import_image(
        lab, tree.to_tar(), repository, tag, changes=image_changes(healthcheck=False)
    )


# -- bases -------------------------------------------------------------------------------------


def _debian_base(lab: Lab, layers: dict[str, Inventory]) -> BaseImage:
    packages = merge_dpkg(
        (p for p in fixture_image("debian-base").packages if p.manager == "dpkg"),
        debian_packages("base", 210),
    )
    layers["debian"] = Inventory(dpkg=packages)
    tree = _Tree()
    _base_layout(tree)
    tree.add("etc/os-release", _os_release("debian", DEBIAN_VERSION, "bookworm"))
    tree.add("etc/debian_version", f"{DEBIAN_VERSION}\n")
    tree.add("var/lib/dpkg/status", dpkg_status(packages, load_build_spec()))
    image_id = _import(lab, tree, "bench/debian", "12")
    return BaseImage("debian", "bench/debian:12", image_id, dpkg=packages)


def _alpine_base(lab: Lab, layers: dict[str, Inventory]) -> BaseImage:
    packages = alpine_packages("base", 60)
    layers["alpine"] = Inventory(apk=packages)
    tree = _Tree()
    _base_layout(tree)
    tree.add("etc/os-release", _os_release("alpine", ALPINE_VERSION))
    tree.add("etc/alpine-release", f"{ALPINE_VERSION}\n")
    tree.add("lib/apk/db/installed", apk_installed(packages, load_build_spec()))
    image_id = _import(lab, tree, "bench/alpine", "3.22")
    return BaseImage("alpine", "bench/alpine:3.22", image_id, apk=packages)


def _node_runtime(lab: Lab, debian: BaseImage, layers: dict[str, Inventory]) -> BaseImage:
    added = debian_packages("node-runtime", 12)
    packages = merge_dpkg(debian.dpkg, added)
    # The npm CLI ships its own dependency tree, reported in every Node image.
    bundled = npm_tree("npm-cli", 180)
    layers["node"] = Inventory(dpkg=added, npm=bundled)
    tree = _Tree()
    tree.add("var/lib/dpkg/status", dpkg_status(packages, load_build_spec()))
    tree.add("usr/local/bin/node", _filler("node-runtime", 8), 0o755)
    tree.add(
        "usr/local/lib/node_modules/npm/package.json",
        json.dumps({"name": "npm", "version": "10.8.2"}) + "\n",
    )
    _add_npm(tree, "usr/local/lib/node_modules/npm/node_modules", bundled)
    image_id = _build(lab, debian.name, tree, "bench/node:20", "node")
    return BaseImage("node", "bench/node:20", image_id, dpkg=packages)


def _python_runtime(lab: Lab, debian: BaseImage, layers: dict[str, Inventory]) -> BaseImage:
    added = debian_packages("python-runtime", 15)
    packages = merge_dpkg(debian.dpkg, added)
    bundled = (
        FixturePackage("pip", "pip", "24.0"),
        FixturePackage("pip", "setuptools", "65.5.1"),
        FixturePackage("pip", "wheel", "0.42.0"),
    )
    layers["python"] = Inventory(dpkg=added, pip=bundled)
    tree = _Tree()
    tree.add("var/lib/dpkg/status", dpkg_status(packages, load_build_spec()))
    tree.add("usr/local/bin/python3.11", _filler("python-runtime", 5), 0o755)
    _add_pip(tree, bundled)
    image_id = _build(lab, debian.name, tree, "bench/python:3.11", "python")
    return BaseImage("python", "bench/python:3.11", image_id, dpkg=packages)


def build_bases(
    lab: Lab, kinds: Iterable[str], layers: dict[str, Inventory]
) -> dict[str, BaseImage]:
    """Build the base images that ``kinds`` need (node and python need debian)."""
    wanted = set(kinds)
    bases: dict[str, BaseImage] = {}
    if wanted & {"debian", "node", "python"}:
        bases["debian"] = _debian_base(lab, layers)
    if "alpine" in wanted:
        bases["alpine"] = _alpine_base(lab, layers)
    if "node" in wanted:
        bases["node"] = _node_runtime(lab, bases["debian"], layers)
    if "python" in wanted:
        bases["python"] = _python_runtime(lab, bases["debian"], layers)
    return bases


# -- apps --------------------------------------------------------------------------------------


def app_layer(spec: AppSpec, base: BaseImage, revision: int) -> tuple[_Tree, Inventory]:
    """Return the app's own layer and what it installs, for ``revision`` of the app."""
    tree = _Tree()
    label = f"app-{spec.service}"
    dpkg: tuple[FixturePackage, ...] = ()
    apk: tuple[FixturePackage, ...] = ()
    if spec.extra_packages and base.kind == "alpine":
        apk = alpine_packages(label, spec.extra_packages)
        merged = {p.name: p for p in (*base.apk, *apk)}
        tree.add("lib/apk/db/installed", apk_installed(merged.values(), load_build_spec()))
    elif spec.extra_packages:
        dpkg = debian_packages(label, spec.extra_packages)
        tree.add("var/lib/dpkg/status", dpkg_status(merge_dpkg(base.dpkg, dpkg), load_build_spec()))
    npm = npm_tree(label, spec.npm, revision=revision) if spec.npm else ()
    _add_npm(tree, NODE_MODULES, npm)
    pip = pip_set(label, spec.pip, revision=revision) if spec.pip else ()
    _add_pip(tree, pip)
    tree.add(f"app/{spec.service}", _filler(f"{spec.service}:{revision}", spec.binary_mib), 0o755)
    tree.add("app/VERSION", f"{spec.service} revision {revision}\n")
    return tree, Inventory(dpkg=dpkg, apk=apk, npm=npm, pip=pip)


def build_app(
    lab: Lab, spec: AppSpec, base: BaseImage, revision: int, project: str
) -> tuple[str, str, Inventory]:
    """Build and push one app revision as ``REGISTRY/project/SERVICE:TAG``.

    Returns the image ID, the registry's manifest digest and what the app layer installs.
    """
    repository = f"{lab.registry}/{project}/{spec.service}"
    tree, inventory = app_layer(spec, base, revision)
    image_id = _build(lab, base.name, tree, f"{repository}:{spec.tag}", spec.service)
    digest = push_image(lab, repository, spec.tag)
    return image_id, digest, inventory


def build_estate(lab: Lab, directory: Path, specs: Sequence[AppSpec]) -> Estate:
    """Build the bases and apps, push the apps, write the compose file; start nothing.

    The directory's name is the Compose project name and the registry namespace.
    """
    layers: dict[str, Inventory] = {}
    bases = build_bases(lab, (spec.base for spec in specs), layers)
    apps: list[AppImage] = []
    inventory = EstateInventory()
    for spec in specs:
        image_id, digest, app_inventory = build_app(lab, spec, bases[spec.base], 1, directory.name)
        layers[spec.service] = app_inventory
        repository = f"{lab.registry}/{directory.name}/{spec.service}"
        apps.append(AppImage(spec, repository, 1, image_id, digest))
        logger.info("built %s (%s)", spec.service, image_id)
    for layer in layers.values():
        inventory.add(layer)
    directory.mkdir(parents=True, exist_ok=True)
    estate = Estate(lab, directory, bases, apps, inventory, layers)
    write_compose(estate)
    return estate


def write_compose(estate: Estate) -> None:
    lines = ["services:"]
    for app in estate.apps:
        lines += [
            f"  {app.spec.service}:",
            f"    image: {app.reference}",
            "    restart: unless-stopped",
        ]
    estate.compose_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def release(estate: Estate, services: Sequence[str]) -> list[Release]:
    """Push a new revision of each service under its tag, leaving the engine as it was.

    The engine keeps running and tagging the old revision and holds no layer of the new
    one, as when a maintainer publishes a release: the next pull has to fetch it.
    """
    client = estate.lab.client()
    releases: list[Release] = []
    for service in services:
        old = estate.app(service)
        revision = old.revision + 1
        image_id, digest, _ = build_app(
            estate.lab, old.spec, estate.bases[old.spec.base], revision, estate.project
        )
        new = replace(old, revision=revision, image_id=image_id, digest=digest)
        client.images.get(old.image_id).tag(old.repository, old.spec.tag)
        client.images.remove(new.image_id, force=True)
        releases.append(Release(old, new))
    return releases


def forget_releases(estate: Estate, releases: Sequence[Release]) -> None:
    """Undo any pull of ``releases``: tags back on the old images, new images removed."""
    client = estate.lab.client()
    for item in releases:
        client.images.get(item.old.image_id).tag(item.old.repository, item.old.spec.tag)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(item.new.image_id, force=True)


def adopt_releases(estate: Estate, releases: Sequence[Release]) -> None:
    """Pull the releases and recreate their services, as a finished weekly update leaves it."""
    compose(estate, "pull", "--quiet")
    compose(estate, "up", "-d")
    for item in releases:
        index = estate.apps.index(item.old)
        estate.apps[index] = item.new


def compose(
    estate: Estate, *arguments: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run Debian's docker-compose (v1) on the estate's project against the lab engine."""
    command = ["docker-compose", "-p", estate.project, "-f", str(estate.compose_file), *arguments]
    completed = subprocess.run(
        command,
        cwd=estate.directory,
        env=estate.lab.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} failed with exit {completed.returncode}: "
            f"{completed.stderr.strip()[-2000:]}"
        )
    return completed


def layer_counts(estate: Estate) -> Mapping[str, int]:
    """Distinct layers over all app images, and layer references, to show the sharing."""
    client = estate.lab.client()
    references = 0
    distinct: set[str] = set()
    for app in estate.apps:
        layers = client.images.get(app.image_id).attrs["RootFS"]["Layers"]
        references += len(layers)
        distinct.update(layers)
    return {"layer_references": references, "distinct_layers": len(distinct)}
