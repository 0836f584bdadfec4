"""Test servers on 127.0.0.1: Debian's docker-registry, a token server and an auth proxy.

Images are pushed through the registry's HTTP API (no Docker engine needed).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from hullcheck.discovery.models import ImageReference

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

_ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
_MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class AccessEntry:
    method: str
    path: str
    status: int

    @property
    def is_manifest(self) -> bool:
        return "/manifests/" in self.path


class RegistryServer:
    """``docker-registry serve`` on a free loopback port, storing in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.log_path = root / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        # A port found free can be taken before the registry binds it, so retry on a new one.
        for _attempt in range(3):
            self.port = free_port()
            config = self.root / "registry.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: info\n  formatter: text\n"
                "storage:\n"
                f"  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.host}\n  secret: lab-only-secret\n"
            )
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
                )
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"docker-registry did not start; see {self.log_path}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/v2/", timeout=1).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = sha256_digest(data)
        started = requests.post(f"{self.url}/v2/{repository}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        done = requests.put(
            location,
            params={"digest": digest},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return digest

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        response = requests.put(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        digest = sha256_digest(body)
        assert response.headers["Docker-Content-Digest"] == digest
        return digest

    def access_log(self) -> list[AccessEntry]:
        text = self.log_path.read_text(errors="replace")
        return [
            AccessEntry(match.group(1), match.group(2), int(match.group(3)))
            for match in _ACCESS_LINE.finditer(text)
        ]

    def manifest_requests(self, *, expected_heads: int) -> list[AccessEntry]:
        """Manifest requests in the access log, once ``expected_heads`` HEADs are logged."""
        deadline = time.monotonic() + 5
        while True:
            entries = [entry for entry in self.access_log() if entry.is_manifest]
            heads = sum(1 for entry in entries if entry.method == "HEAD")
            if heads >= expected_heads or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


def _layer_bytes(content: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = content.encode()
        info = tarfile.TarInfo("etc/lab-release")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def push_image(
    registry: RegistryServer, repository: str, tag: str, *, content: str, kind: str = "docker"
) -> str:
    """Push a one-layer image; ``kind`` is docker, oci, oci-index or docker-list.

    Returns the digest of the manifest (or index) now under ``tag``.
    """
    layer = _layer_bytes(content)
    diff_id = sha256_digest(gzip.decompress(layer))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [f"LAB_CONTENT={content}"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_digest = registry.push_blob(repository, config)
    layer_digest = registry.push_blob(repository, layer)
    oci = kind.startswith("oci")
    manifest_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": _descriptor(OCI_CONFIG if oci else DOCKER_CONFIG, config_digest, len(config)),
            "layers": [_descriptor(OCI_LAYER if oci else DOCKER_LAYER, layer_digest, len(layer))],
        }
    ).encode()
    if kind in ("docker", "oci"):
        return registry.push_manifest(repository, tag, manifest, manifest_type)

    child = registry.push_manifest(repository, sha256_digest(manifest), manifest, manifest_type)
    index_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST
    platform = {"architecture": "amd64", "os": "linux"}
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": [_descriptor(manifest_type, child, len(manifest), platform=platform)],
        }
    ).encode()
    return registry.push_manifest(repository, tag, index, index_type)


@dataclass(frozen=True)
class Canned:
    """A response a lab server sends instead of its normal one."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    raw_query: str
    headers: dict[str, str]
    form: dict[str, str]


class _LabServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread, with canned responses."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.canned: deque[Canned] = deque()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._dispatch(self)

            def do_HEAD(self) -> None:
                owner._dispatch(self)

            def do_POST(self) -> None:
                owner._dispatch(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        form = dict(parse_qsl(body.decode())) if handler.command == "POST" else {}
        recorded = RecordedRequest(
            method=handler.command,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            raw_query=parts.query,
            headers={key.lower(): value for key, value in handler.headers.items()},
            form=form,
        )
        with self._lock:
            self.requests.append(recorded)
            canned = self.canned.popleft() if self.canned else None
        if canned is None:
            canned = self.respond(recorded)
        handler.send_response(canned.status)
        for key, value in canned.headers.items():
            handler.send_header(key, value)
        if "Content-Length" not in canned.headers:
            handler.send_header("Content-Length", str(len(canned.body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(canned.body)

    def respond(self, request: RecordedRequest) -> Canned:
        raise NotImplementedError


def _json(status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> Canned:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return Canned(status, all_headers, json.dumps(data).encode())


class TokenServer(_LabServer):
    """A token endpoint at ``/token``: anonymous tokens, or only for ``required`` credentials.

    ``POST`` accepts ``grant_type=refresh_token`` with ``refresh_token`` equal to
    ``identity_token``, as Docker does with an identity token from ``docker login``.
    """

    def __init__(
        self,
        *,
        expires_in: int | None = 300,
        required: tuple[str, str] | None = None,
        identity_token: str | None = None,
    ) -> None:
        super().__init__()
        self.expires_in = expires_in
        self.required = required
        self.identity_token = identity_token
        self.issued: dict[str, str] = {}
        """Valid token -> the scope it was issued for."""

    def realm(self, query: str = "x=1") -> str:
        suffix = f"?{query}" if query else ""
        return f"http://{self.host}/token{suffix}"

    def revoke_all(self) -> None:
        with self._lock:
            self.issued.clear()

    def token_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == "/token"]

    def respond(self, request: RecordedRequest) -> Canned:
        if request.path != "/token":
            return _json(404, {"errors": [{"code": "NOT_FOUND"}]})
        if request.method == "POST":
            allowed = (
                request.form.get("grant_type") == "refresh_token"
                and self.identity_token is not None
                and request.form.get("refresh_token") == self.identity_token
            )
            scope = request.form.get("scope", "")
        else:
            allowed = self.required is None or request.headers.get("authorization") == _basic(
                *self.required
            )
            scope = " ".join(value for key, value in request.query if key == "scope")
        if not allowed:
            return _json(401, {"details": "incorrect username or password"})
        token = f"lab-token-{secrets.token_hex(8)}"
        with self._lock:
            self.issued[token] = scope
        data: dict[str, Any] = {"token": token}
        if request.method == "POST":
            data = {"access_token": token}
        if self.expires_in is not None:
            data["expires_in"] = self.expires_in
        return _json(200, data)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class AuthProxy(_LabServer):
    """A registry front that demands a Bearer token (or Basic credentials) and forwards
    accepted requests to the real registry with the same method."""

    def __init__(
        self,
        upstream: RegistryServer,
        *,
        tokens: TokenServer | None = None,
        realm_query: str = "x=1",
        basic: tuple[str, str] | None = None,
        service: str = "lab-registry",
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.tokens = tokens
        self.realm_query = realm_query
        self.basic = basic
        self.service = service
        self.extra_headers: dict[str, str] = {}

    def manifest_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if "/manifests/" in request.path]

    def respond(self, request: RecordedRequest) -> Canned:
        match = _MANIFEST_PATH.match(request.path)
        repository = match.group(1) if match else ""
        authorization = request.headers.get("authorization", "")
        if self.tokens is not None:
            scope = self.tokens.issued.get(authorization.removeprefix("Bearer "))
            if not authorization.startswith("Bearer ") or scope != f"repository:{repository}:pull":
                challenge = (
                    f'Bearer realm="{self.tokens.realm(self.realm_query)}",'
                    f'service="{self.service}",scope="repository:{repository}:pull"'
                )
                return _json(401, _unauthorized(), {"WWW-Authenticate": challenge})
        if self.basic is not None and authorization != _basic(*self.basic):
            return _json(401, _unauthorized(), {"WWW-Authenticate": 'Basic realm="lab"'})
        return self._forward(request)

    def _forward(self, request: RecordedRequest) -> Canned:
        connection = http.client.HTTPConnection(self.upstream.host, timeout=10)
        try:
            path = request.path + (f"?{request.raw_query}" if request.raw_query else "")
            headers = {"Accept": request.headers.get("accept", "*/*")}
            connection.request(request.method, path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            skip = {"connection", "transfer-encoding", "date"}
            headers = {
                key: value for key, value in response.getheaders() if key.lower() not in skip
            }
            headers.update(self.extra_headers)
            return Canned(response.status, headers, body)
        finally:
            connection.close()


def _unauthorized() -> dict[str, Any]:
    return {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}


class SilentServer:
    """A socket that accepts connections into its backlog but never responds."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def stop(self) -> None:
        self._socket.close()


class FakeClock:
    """A monotonic clock the test moves by hand, so token expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordedSleep:
    """Records Retry-After waits instead of sleeping, keeping the tests fast."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def image_ref(
    host: str, repository: str, tag: str | None = None, digest: str | None = None
) -> ImageReference:
    original = f"{host}/{repository}"
    if tag:
        original += f":{tag}"
    if digest:
        original += f"@{digest}"
    return ImageReference(
        original=original, registry=host, repository=repository, tag=tag, digest=digest
    )
