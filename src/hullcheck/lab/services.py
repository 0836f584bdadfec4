"""A private Docker engine and image registry on loopback, for the tests and ``hullcheck demo``.

``Lab`` starts Debian's ``dockerd`` on its own unix socket and Debian's ``docker-registry`` on
``127.0.0.1:PORT``, both under one root directory, and stops exactly the processes it
started. It never talks to ``/var/run/docker.sock``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

import docker
import docker.errors

from hullcheck.errors import HullcheckError

logger = logging.getLogger(__name__)

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
"""Directories searched for dockerd and docker-registry: Debian's locations only, so that a
newer client in /usr/local/bin is never picked up by mistake."""

BOOTSTRAP_HINT = "run scripts/bootstrap as root to install docker.io, docker-registry and the venv"

# Connections to hosts other than loopback go to this proxy address, where nothing listens,
# so the lab's engine fails fast instead of reaching Docker Hub. Go's HTTP client never sends
# loopback requests through a proxy, so pushes and pulls to the lab registry are unaffected.
_DEAD_PROXY = "http://127.0.0.1:9"

# bind() takes at most 107 bytes of path plus a NUL byte. containerd puts its sockets in
# EXEC_ROOT/containerd, and the longest name there is "containerd.sock.ttrpc".
_MAX_SOCKET_PATH = 107
_LONGEST_SOCKET_SUFFIX = "/containerd/containerd.sock.ttrpc"

_MNT_DETACH = 2

_ACCESS_LOG_LINE = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) '
)
_SYNC_PREFIX = "/hullcheck-lab-sync/"
_NOT_STARTED_HINT = "call Lab.start() first, or use the lab in a with block"


class LabError(HullcheckError):
    """The lab engine or registry could not start, or a lab operation failed."""


class RegistryRequest(NamedTuple):
    """One request from the lab registry's access log."""

    method: str
    path: str
    """Request URI as logged, including any query string."""
    status: int


@dataclass
class _Process:
    name: str
    pid: int
    start_ticks: int
    """Start time from /proc/PID/stat, so a reused PID is never taken for ours."""
    popen: subprocess.Popen[bytes] | None = None


class Lab:
    """A private dockerd and registry under one root directory; a context manager.

    With no ``root``, the lab creates a temporary directory and deletes it on ``stop()``.
    With a ``root``, the data (images, registry storage) is kept so a later ``Lab`` on the
    same root starts where this one stopped.
    """

    def __init__(self, root: Path | None = None, *, start_timeout: float = 60.0) -> None:
        self._given_root = root
        self._start_timeout = start_timeout
        self._root: Path | None = None
        self._exec_root: Path | None = None
        self._exec_root_is_temporary = False
        self._registry_port: int | None = None
        self._processes: dict[str, _Process] = {}
        self._client: docker.DockerClient | None = None
        self.start_seconds: float | None = None
        """Wall-clock time the last ``start()`` took, for reports."""

    # -- paths -------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        if self._root is None:
            raise LabError("the lab is not started", hint=_NOT_STARTED_HINT)
        return self._root

    @property
    def _data_root(self) -> Path:
        return self.root / "engine" / "data"

    @property
    def _pid_file(self) -> Path:
        return self.root / "engine" / "dockerd.pid"

    @property
    def _socket_path(self) -> Path:
        assert self._exec_root is not None
        return self._exec_root / "docker.sock"

    @property
    def dockerd_log(self) -> Path:
        return self.root / "logs" / "dockerd.log"

    @property
    def registry_log(self) -> Path:
        return self.root / "logs" / "registry.log"

    @property
    def docker_config_dir(self) -> Path:
        """DOCKER_CONFIG for subprocesses, so no user credentials or contexts leak in."""
        return self.root / "docker-config"

    # -- public surface ----------------------------------------------------------------------

    @property
    def docker_host(self) -> str:
        """The engine's address, ``unix:///.../docker.sock``."""
        self._require_started()
        return f"unix://{self._socket_path}"

    @property
    def registry(self) -> str:
        """The registry's host and port, ``127.0.0.1:PORT``, as used in image references."""
        self._require_started()
        return f"127.0.0.1:{self._registry_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.registry}"

    @property
    def pids(self) -> dict[str, int]:
        """PIDs of the dockerd, containerd and registry processes this lab started."""
        return {name: process.pid for name, process in self._processes.items()}

    def client(self) -> docker.DockerClient:
        """Return the lab's shared Docker SDK client; ``stop()`` closes it."""
        self._require_started()
        if self._client is None:
            self._client = docker.DockerClient(
                base_url=self.docker_host, version="auto", timeout=300
            )
        return self._client

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return an environment for docker-compose, Trivy or hullcheck aimed at the lab engine.

        Starts from ``base`` (default ``os.environ``) and drops the Docker and Compose settings
        that would point elsewhere or change which project Compose loads.
        """
        self._require_started()
        environment = dict(os.environ if base is None else base)
        for name in (
            "DOCKER_CONTEXT",
            "DOCKER_TLS",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "COMPOSE_FILE",
            "COMPOSE_PROJECT_NAME",
            "COMPOSE_PROFILES",
        ):
            environment.pop(name, None)
        environment["DOCKER_HOST"] = self.docker_host
        environment["DOCKER_CONFIG"] = str(self.docker_config_dir)
        return environment

    def process_ids(self) -> list[int]:
        """PIDs of every live lab process: registry, dockerd, containerd and its shims.

        Shims are started by containerd, not by the lab, so they are found by the lab's
        unique exec-root path in their command line.
        """
        self._require_started()
        assert self._exec_root is not None
        found = {process.pid for process in self._processes.values() if _is_alive(process)}
        found.update(_pids_with_argument_containing(str(self._exec_root) + "/"))
        return sorted(found)

    def registry_requests(self, *, settle: bool = True) -> list[RegistryRequest]:
        """Parse the registry's access log into (method, path, status) entries, oldest first.

        The registry writes a log line when a handler returns, which can be just after the
        client has read the response. With ``settle``, a marker request is sent first and
        the log is read once the marker appears, so earlier requests are all in it. Marker
        requests are left out of the result.
        """
        self._require_started()
        if settle:
            self._settle_registry_log()
        requests: list[RegistryRequest] = []
        for line in self._read_log_lines(self.registry_log):
            match = _ACCESS_LOG_LINE.match(line)
            if match is None or match["path"].startswith(_SYNC_PREFIX):
                continue
            requests.append(RegistryRequest(match["method"], match["path"], int(match["status"])))
        return requests

    # -- start -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._root is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Start the registry and the engine and wait until both respond.

        Raises LabError naming the cause and quoting the end of the process log when a
        binary is missing, the user is not root, or a process exits or does not respond in
        time. On failure everything already started is stopped again.
        """
        if self._root is not None:
            raise LabError(f"the lab on {self._root} is already started", hint="call stop() first")
        began = time.monotonic()
        dockerd = _find_binary("dockerd")
        registry = _find_binary("docker-registry")
        if os.geteuid() != 0:
            raise LabError(
                f"the lab needs root to run dockerd, but the effective user id is {os.geteuid()}",
                hint="run the tests as root, as the CI job does",
            )

        root = self._prepare_root()
        # Checked before the lab owns the root, so that the cleanup after a failed start
        # never unmounts anything of the engine that still runs there.
        self._check_no_previous_engine(root)
        self._root = root
        try:
            self._exec_root = self._prepare_exec_root()
            self._start_registry(registry)
            self._start_dockerd(dockerd)
            self._wait_until_ready(began + self._start_timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        logger.info(
            "lab started in %.1f s: engine %s, registry %s, root %s",
            self.start_seconds,
            self.docker_host,
            self.registry,
            self.root,
        )
        return self

    def _prepare_root(self) -> Path:
        if self._given_root is None:
            root = Path(tempfile.mkdtemp(prefix="hullcheck-lab-"))
        else:
            root = self._given_root.resolve()
        for directory in ("engine/data", "logs", "registry/storage", "docker-config"):
            (root / directory).mkdir(parents=True, exist_ok=True)
        config = root / "docker-config" / "config.json"
        if not config.exists():
            config.write_text("{}\n", encoding="utf-8")
        return root

    @staticmethod
    def _check_no_previous_engine(root: Path) -> None:
        """Raise when a dockerd from an earlier lab on ``root`` still runs."""
        try:
            pid = int((root / "engine" / "dockerd.pid").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return
        if str(root / "engine" / "data") in _command_line(pid):
            raise LabError(
                f"dockerd PID {pid} from an earlier lab still runs on {root}",
                hint=f"stop that lab, or kill PID {pid}, before starting another on this root",
            )

    def _prepare_exec_root(self) -> Path:
        candidate = self.root / "run"
        if len(str(candidate)) + len(_LONGEST_SOCKET_SUFFIX) > _MAX_SOCKET_PATH:
            # A deep root (pytest's tmp_path, say) would make the socket paths too long.
            self._exec_root_is_temporary = True
            return Path(tempfile.mkdtemp(prefix="hcl-", dir="/tmp"))
        # Runtime state of an earlier engine on this root is stale: it contains sockets,
        # PID files and mounts of processes that are gone.
        _unmount_under(candidate)
        if candidate.exists():
            shutil.rmtree(candidate, onerror=_retry_removal)
        candidate.mkdir(mode=0o700)
        return candidate

    def _start_registry(self, binary: str) -> None:
        port = self._choose_registry_port()
        config_path = self.root / "registry" / "config.yml"
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "registry" / "storage")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        }
        # JSON is valid YAML, and the registry reads its config with a YAML parser.
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        self._registry_port = port
        (self.root / "registry" / "port").write_text(f"{port}\n", encoding="ascii")
        self._processes["registry"] = _spawn(
            "registry", [binary, "serve", str(config_path)], self.registry_log
        )

    def _choose_registry_port(self) -> int:
        """Reuse the port of an earlier lab on this root when free, so stored references work."""
        try:
            previous = int((self.root / "registry" / "port").read_text(encoding="ascii"))
        except (OSError, ValueError):
            previous = 0
        if previous and _port_is_free(previous):
            return previous
        return _free_port()

    def _start_dockerd(self, binary: str) -> None:
        assert self._exec_root is not None
        daemon_config = self.root / "engine" / "daemon.json"
        # An explicit config file keeps settings in /etc/docker/daemon.json out of the lab.
        daemon_config.write_text("{}\n", encoding="utf-8")
        command = [
            binary,
            "--config-file",
            str(daemon_config),
            "--storage-driver",
            "vfs",
            "--iptables=false",
            "--ip6tables=false",
            # No docker0 bridge: several labs can share a host network namespace. Compose
            # still creates its own bridge networks, and containers run with "none".
            "--bridge=none",
            "--data-root",
            str(self._data_root),
            "--exec-root",
            str(self._exec_root),
            "--pidfile",
            str(self._pid_file),
            "-H",
            f"unix://{self._socket_path}",
        ]
        environment = {
            "PATH": SYSTEM_PATH,
            "HOME": str(self.root),
            "HTTP_PROXY": _DEAD_PROXY,
            "HTTPS_PROXY": _DEAD_PROXY,
            "NO_PROXY": "localhost,127.0.0.0/8,::1",
        }
        self._processes["dockerd"] = _spawn("dockerd", command, self.dockerd_log, environment)

    def _wait_until_ready(self, deadline: float) -> None:
        registry_ready = False
        engine_ready = False
        while not (registry_ready and engine_ready):
            for name, process in self._processes.items():
                if not _is_alive(process):
                    log = self.registry_log if name == "registry" else self.dockerd_log
                    raise LabError(
                        f"{name} (PID {process.pid}) exited during start-up; "
                        f"end of {log}:\n{_tail(log)}",
                        hint=BOOTSTRAP_HINT,
                    )
            registry_ready = registry_ready or self._registry_answers()
            engine_ready = engine_ready or self._engine_answers()
            if registry_ready and engine_ready:
                break
            if time.monotonic() > deadline:
                waiting = "dockerd" if not engine_ready else "docker-registry"
                log = self.dockerd_log if not engine_ready else self.registry_log
                raise LabError(
                    f"{waiting} did not respond within {self._start_timeout:.0f} s; "
                    f"end of {log}:\n{_tail(log)}",
                    hint="raise start_timeout on a slow machine, or read the log for the cause",
                )
            time.sleep(0.05)
        self._record_containerd()

    def _registry_answers(self) -> bool:
        try:
            with _loopback_opener().open(f"{self.registry_url}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _engine_answers(self) -> bool:
        if not self._socket_path.exists():
            return False
        try:
            return bool(self.client().ping())
        except (docker.errors.DockerException, OSError):
            self._close_client()
            return False

    def _record_containerd(self) -> None:
        """Track the containerd that dockerd started, to stop it if dockerd dies first."""
        assert self._exec_root is not None
        pid_file = self._exec_root / "containerd" / "containerd.pid"
        try:
            pid = int(pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            logger.warning("no containerd PID in %s; stop() will rely on dockerd", pid_file)
            return
        ticks = _start_ticks(pid)
        if ticks is not None:
            self._processes["containerd"] = _Process("containerd", pid, ticks)

    # -- stop --------------------------------------------------------------------------------

    def stop(self, *, remove_root: bool | None = None) -> None:
        """Stop the lab and remove what it created; safe to call more than once.

        Removes every container and user-defined network of the private engine, stops
        dockerd, containerd, leftover shims and the registry by PID (SIGTERM, then
        SIGKILL), unmounts what the engine left mounted and deletes the runtime directory.
        The root is deleted when ``remove_root`` is true; by default only a root that the
        lab created itself is deleted.
        """
        if self._root is None:
            return
        remove = self._given_root is None if remove_root is None else remove_root
        shim_pids: list[int] = []
        if "dockerd" in self._processes and self._exec_root is not None:
            with contextlib.suppress(LabError):
                self._remove_engine_objects()
            shim_pids = [
                pid
                for pid in _pids_with_argument_containing(str(self._exec_root) + "/")
                if pid not in self.pids.values()
            ]
        self._close_client()

        for name in ("dockerd", "containerd"):
            process = self._processes.pop(name, None)
            if process is not None:
                _terminate(process, grace_seconds=20.0)
        for pid in shim_pids:
            ticks = _start_ticks(pid)
            if ticks is not None:
                _terminate(_Process("containerd-shim", pid, ticks), grace_seconds=5.0)
        registry = self._processes.pop("registry", None)
        if registry is not None:
            _terminate(registry, grace_seconds=5.0)

        root = self._root
        if self._exec_root is not None:
            # Runtime state only: a restarted engine would not use it.
            _unmount_under(self._exec_root)
            shutil.rmtree(self._exec_root, onerror=_retry_removal)
        _unmount_under(root)
        if remove:
            shutil.rmtree(root, onerror=_retry_removal)
        self._root = None
        self._exec_root = None
        self._exec_root_is_temporary = False
        logger.info("lab on %s stopped%s", root, " and removed" if remove else "")

    def _remove_engine_objects(self) -> None:
        """Remove all containers and user-defined networks: everything in this engine is ours."""
        if not _is_alive(self._processes["dockerd"]):
            return
        try:
            client = self.client()
            for container in client.containers.list(all=True):
                container.remove(force=True, v=True)
            client.networks.prune()
        except (docker.errors.DockerException, OSError) as error:
            logger.warning("could not remove the lab's containers before stopping: %s", error)

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers -----------------------------------------------------------------------------

    def _require_started(self) -> None:
        if self._root is None or self._exec_root is None:
            raise LabError("the lab is not started", hint=_NOT_STARTED_HINT)

    def _settle_registry_log(self) -> None:
        marker = _SYNC_PREFIX + secrets.token_hex(8)
        with contextlib.suppress(urllib.error.HTTPError):
            _loopback_opener().open(self.registry_url + marker, timeout=5).close()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if any(f" {marker} " in line for line in self._read_log_lines(self.registry_log)):
                return
            time.sleep(0.02)
        raise LabError(
            f"the registry did not log the marker request {marker} within 5 s",
            hint=f"check that the access log is enabled in {self.root / 'registry' / 'config.yml'}",
        )

    @staticmethod
    def _read_log_lines(path: Path) -> list[str]:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        # The last element is empty, or a line the registry is still writing.
        return lines[:-1]


# -- processes ---------------------------------------------------------------------------------


def _find_binary(name: str) -> str:
    path = shutil.which(name, path=SYSTEM_PATH)
    if path is None:
        raise LabError(f"{name} was not found in {SYSTEM_PATH}", hint=BOOTSTRAP_HINT)
    return path


def _spawn(
    name: str, command: list[str], log_path: Path, environment: Mapping[str, str] | None = None
) -> _Process:
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(environment) if environment is not None else {"PATH": SYSTEM_PATH},
            # A new session keeps a Ctrl-C in the terminal from killing the daemons before
            # stop() has removed their containers.
            start_new_session=True,
        )
    ticks = _start_ticks(popen.pid) or 0
    logger.debug("started %s as PID %d: %s", name, popen.pid, " ".join(command))
    return _Process(name, popen.pid, ticks, popen)


def _start_ticks(pid: int) -> int | None:
    """Return the process start time in clock ticks (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name in field 2 may contain spaces, so split after its closing bracket.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _is_alive(process: _Process) -> bool:
    if process.popen is not None:
        return process.popen.poll() is None
    return _start_ticks(process.pid) == process.start_ticks


def _terminate(process: _Process, *, grace_seconds: float) -> None:
    for sig, wait_seconds in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        if not _is_alive(process):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        deadline = time.monotonic() + wait_seconds
        while _is_alive(process) and time.monotonic() < deadline:
            time.sleep(0.05)
        if sig is signal.SIGTERM and _is_alive(process):
            logger.warning(
                "%s (PID %d) ignored SIGTERM for %.0f s; sending SIGKILL",
                process.name,
                process.pid,
                grace_seconds,
            )
    if _is_alive(process):
        logger.error("%s (PID %d) is still alive after SIGKILL", process.name, process.pid)


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def _pids_with_argument_containing(text: str) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and text in _command_line(int(entry.name)):
            found.append(int(entry.name))
    return found


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(log not readable: {error})"
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


# -- network -----------------------------------------------------------------------------------


def _loopback_opener() -> urllib.request.OpenerDirector:
    # An empty ProxyHandler ignores HTTP_PROXY and the other proxy variables, so lab requests
    # stay on loopback.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the registry's Go listener, ignore connections of the last run in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# -- file system -------------------------------------------------------------------------------


def _unmount_under(directory: Path) -> None:
    """Detach every mount at or below ``directory``, deepest first.

    A dockerd that was killed leaves its data-root bind mount, network namespace files and
    container shm mounts behind, and rmtree cannot delete a busy mount point.
    """
    prefix = str(directory)
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError:
        return
    points: list[str] = []
    for line in mountinfo.splitlines():
        # Field 5 is the mount point, with spaces and other specials octal-escaped.
        point = _unescape_mount_path(line.split(" ")[4])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    if not points:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for point in sorted(points, key=len, reverse=True):
        if libc.umount2(point.encode(), _MNT_DETACH) != 0:
            error = ctypes.get_errno()
            logger.warning("could not unmount %s: %s", point, os.strerror(error))


def _unescape_mount_path(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), text)


def _retry_removal(function: Callable[..., object], path: str, _info: object) -> None:
    """Make a read-only path writable and retry; files copied from images may be 0o555."""
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)
    except OSError as error:
        logger.warning("could not remove %s: %s", path, error)
