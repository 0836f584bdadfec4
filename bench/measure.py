"""Run the blog's loop and hullcheck on the estate and measure both the same way.

Each run records its wall time and the Trivy processes it started, by sub-command and with
the time spent in them, from a wrapper script that logs start and end. It also records the
requests the lab registry served during the run, from its access log. For hullcheck it
adds the process's own peak RSS and the time it spent pulling, from ``bench.launch``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.estate import BenchError, Estate
from hullcheck.lab.services import Lab, RegistryRequest

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
REAL_TRIVY = Path(sys.executable).parent / "trivy"
TRIVY_LOG_ENV = "BENCH_TRIVY_LOG"

LOOP_SEVERITY = "HIGH,CRITICAL"

_MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")
_BLOB = re.compile(r"^/v2/.+/blobs/sha256:[0-9a-f]+$")
_UPLOAD = re.compile(r"^/v2/.+/blobs/uploads/")
_TAGS = re.compile(r"^/v2/.+/tags/list$")


def request_kind(request: RegistryRequest) -> str:
    """Name a registry request as ``manifest HEAD``, ``blob GET``, ``ping GET`` and so on."""
    path = request.path.split("?", 1)[0]
    if _MANIFEST.match(path):
        kind = "manifest"
    elif _UPLOAD.match(path):
        kind = "upload"
    elif _BLOB.match(path):
        kind = "blob"
    elif _TAGS.match(path):
        kind = "tags"
    elif path.rstrip("/") == "/v2":
        kind = "ping"
    else:
        kind = "other"
    return f"{kind} {request.method}"


def write_counting_trivy(directory: Path, real: Path = REAL_TRIVY) -> Path:
    """Write a wrapper that runs ``real`` and appends ``SUBCOMMAND START END`` to $BENCH_TRIVY_LOG.

    Times are seconds since the epoch from ``date +%s.%N``. The two ``date`` processes add
    about 2 ms to each call, which counts as Trivy time.
    """
    if not real.is_file():
        raise BenchError(f"Trivy not found at {real}; run scripts/bootstrap to install it")
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "trivy"
    wrapper.write_text(
        "#!/bin/sh\n"
        "start=$(date +%s.%N)\n"
        f'"{real}" "$@"\n'
        "status=$?\n"
        "end=$(date +%s.%N)\n"
        f'printf \'%s %s %s\\n\' "$1" "$start" "$end" >> "${{{TRIVY_LOG_ENV}:?}}"\n'
        "exit $status\n",
        encoding="utf-8",
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper


@dataclass(frozen=True)
class TrivyCall:
    kind: str
    """The first argument: ``image``, ``sbom``, ``convert``, ``rootfs``, ``--version``."""
    seconds: float
    start: float = 0.0
    end: float = 0.0


def busy_seconds(calls: list[TrivyCall]) -> float:
    """Return the wall time during which at least one Trivy process ran.

    hullcheck runs SBOM matches side by side, so the sum of call times can exceed the
    wall time. The union of the intervals is the time spent waiting on Trivy.
    """
    total = 0.0
    covered_until = float("-inf")
    for call in sorted(calls, key=lambda c: c.start):
        start = max(call.start, covered_until)
        if call.end > start:
            total += call.end - start
            covered_until = call.end
    return total


def read_trivy_calls(log: Path) -> list[TrivyCall]:
    if not log.exists():
        return []
    calls: list[TrivyCall] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        kind, start, end = line.rsplit(" ", 2)
        calls.append(
            TrivyCall(kind or "(none)", float(end) - float(start), float(start), float(end))
        )
    return calls


@dataclass
class Step:
    """One command of a run."""

    command: list[str]
    seconds: float
    exit_code: int


@dataclass
class RunResult:
    """Costs of one run of the loop or of hullcheck."""

    scenario: str
    tool: str
    wall_seconds: float = 0.0
    trivy_seconds: float = 0.0
    pull_seconds: float = 0.0
    trivy_calls: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    peak_rss_kib: int | None = None
    """Peak RSS of the largest hullcheck process of the run (None for the loop)."""
    steps: list[Step] = field(default_factory=list)
    image_sources: Counter[str] = field(default_factory=Counter)
    """For hullcheck scans: images by result source (image, sbom, reused)."""
    update_actions: Counter[str] = field(default_factory=Counter)
    reports: dict[str, Path] = field(default_factory=dict)
    """hullcheck's JSON report of each command, by command."""

    @property
    def overhead_seconds(self) -> float:
        """Wall time outside Trivy and image pulls."""
        return self.wall_seconds - self.trivy_seconds - self.pull_seconds

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "tool": self.tool,
            "wall_seconds": round(self.wall_seconds, 3),
            "trivy_seconds": round(self.trivy_seconds, 3),
            "pull_seconds": round(self.pull_seconds, 3),
            "overhead_seconds": round(self.overhead_seconds, 3),
            "trivy_calls": dict(self.trivy_calls),
            "requests": dict(self.requests),
            "peak_rss_kib": self.peak_rss_kib,
            "image_sources": dict(self.image_sources),
            "update_actions": dict(self.update_actions),
            "steps": [
                {
                    "command": step.command,
                    "seconds": round(step.seconds, 3),
                    "exit_code": step.exit_code,
                }
                for step in self.steps
            ],
        }


@dataclass
class Bench:
    """Shared settings of every run on one estate."""

    estate: Estate
    work: Path
    wrapper: Path
    _counter: int = 0

    @property
    def lab(self) -> Lab:
        return self.estate.lab

    def next_path(self, stem: str) -> Path:
        self._counter += 1
        path = self.work / "runs" / f"{self._counter:03d}-{stem}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def environment(self, trivy_log: Path) -> dict[str, str]:
        environment = self.estate.lab.env()
        environment[TRIVY_LOG_ENV] = str(trivy_log)
        # No user settings: an empty configuration directory.
        environment["XDG_CONFIG_HOME"] = str(self.work / "config")
        environment.pop("HULLCHECK_DATA_DIR", None)
        return environment


def _run(command: Sequence[str], environment: dict[str, str], output: Path, cwd: Path) -> Step:
    started = time.monotonic()
    with output.open("ab") as log:
        completed = subprocess.run(
            list(command),
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            check=False,
        )
    return Step(list(command), time.monotonic() - started, completed.returncode)


def run_loop(bench: Bench, scenario: str, cache_dir: Path, *, default_scanners: bool) -> RunResult:
    """Run ``docker-compose pull`` and then ``trivy image`` on each service's image.

    ``default_scanners`` leaves out ``--scanners vuln``, so Trivy also scans for secrets,
    as the loop does when copied from the blog with Trivy's defaults.
    """
    tool = "loop (vuln+secret)" if default_scanners else "loop (vuln)"
    result = RunResult(scenario, tool)
    base = bench.next_path(f"{scenario}-loop{'-default' if default_scanners else ''}")
    trivy_log = base.with_suffix(".trivy.log")
    output = base.with_suffix(".out")
    environment = bench.environment(trivy_log)
    before = len(bench.lab.registry_requests())

    started = time.monotonic()
    pull = _run(
        [
            "docker-compose",
            "-p",
            bench.estate.project,
            "-f",
            str(bench.estate.compose_file),
            "pull",
        ],
        environment,
        output,
        bench.estate.directory,
    )
    result.steps.append(pull)
    result.pull_seconds = pull.seconds
    for app in bench.estate.apps:
        command = [
            str(bench.wrapper),
            "image",
            "--severity",
            LOOP_SEVERITY,
            "--skip-db-update",
            "--skip-version-check",
            *([] if default_scanners else ["--scanners", "vuln"]),
            "--cache-dir",
            str(cache_dir),
            "--image-src",
            "docker",
            app.reference,
        ]
        result.steps.append(_run(command, environment, output, bench.estate.directory))
    result.wall_seconds = time.monotonic() - started

    _count(bench, result, trivy_log, before)
    failed = [step for step in result.steps if step.exit_code != 0]
    if failed:
        raise BenchError(
            f"{tool} in {scenario}: {' '.join(failed[0].command)} failed; see {output}"
        )
    return result


def hullcheck_command(
    bench: Bench, subcommand: str, cache_dir: Path, output: Path, *extra: str
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.launch",
        subcommand,
        str(bench.estate.directory),
        *extra,
        "--format",
        "json",
        "--output",
        str(output),
        "--docker-host",
        bench.lab.docker_host,
        "--cache-dir",
        str(cache_dir),
        "--db-update",
        "skip",
        "--trivy",
        str(bench.wrapper),
    ]


def run_hullcheck(
    bench: Bench,
    scenario: str,
    cache_dir: Path,
    data_dir: Path,
    *,
    update_arguments: Sequence[str] = ("--dry-run",),
    tool: str = "hullcheck",
    profile: bool = False,
) -> RunResult:
    """Run ``hullcheck update UPDATE_ARGUMENTS`` and then ``hullcheck scan``, as a user would weekly."""
    result = RunResult(scenario, tool)
    base = bench.next_path(f"{scenario}-{tool.replace(' ', '-').replace(',', '')}")
    trivy_log = base.with_suffix(".trivy.log")
    output = base.with_suffix(".out")
    environment = bench.environment(trivy_log)
    environment["HULLCHECK_DATA_DIR"] = str(data_dir)
    before = len(bench.lab.registry_requests())

    reports = result.reports
    started = time.monotonic()
    for subcommand, extra in (("update", tuple(update_arguments)), ("scan", ())):
        report = base.with_suffix(f".{subcommand}.json")
        stats = base.with_suffix(f".{subcommand}.stats.json")
        environment["HULLCHECK_BENCH_STATS"] = str(stats)
        if profile:
            environment["HULLCHECK_BENCH_PROFILE"] = str(base.with_suffix(f".{subcommand}.prof"))
        command = hullcheck_command(bench, subcommand, cache_dir, report, *extra)
        step = _run(command, environment, output, REPOSITORY_ROOT)
        result.steps.append(step)
        reports[subcommand] = report
        if step.exit_code != 0:
            raise BenchError(
                f"{tool} in {scenario}: hullcheck {subcommand} exited {step.exit_code}; see {output}"
            )
        measured = json.loads(stats.read_text(encoding="utf-8"))
        result.pull_seconds += float(measured["pull_seconds"])
        result.peak_rss_kib = max(result.peak_rss_kib or 0, int(measured["peak_rss_kib"]))
    result.wall_seconds = time.monotonic() - started

    _count(bench, result, trivy_log, before)
    update = json.loads(reports["update"].read_text(encoding="utf-8"))
    result.update_actions.update(service["action"] for service in update.get("services", []))
    scan = json.loads(reports["scan"].read_text(encoding="utf-8"))
    result.image_sources.update(image["source"] for image in scan["images"])
    failed = [image["image"] for image in scan["images"] if image["status"] == "failed"]
    if failed:
        raise BenchError(
            f"{tool} in {scenario}: scans failed for {', '.join(failed)}; see {output}"
        )
    return result


def _count(bench: Bench, result: RunResult, trivy_log: Path, requests_before: int) -> None:
    calls = read_trivy_calls(trivy_log)
    result.trivy_calls.update(call.kind for call in calls)
    result.trivy_seconds = busy_seconds(calls)
    for request in bench.lab.registry_requests()[requests_before:]:
        result.requests[request_kind(request)] += 1


def fresh_cache(source: Path, destination: Path) -> Path:
    """Create an empty Trivy cache holding only the vulnerability DB of ``source``."""
    if destination.exists():
        shutil.rmtree(destination)
    (destination / "db").mkdir(parents=True)
    install_db(source, destination)
    return destination


def install_db(source: Path, cache_dir: Path) -> None:
    """Copy the DB of ``source`` into ``cache_dir``, keeping its layer cache."""
    for name in ("trivy.db", "metadata.json"):
        shutil.copy2(source / "db" / name, cache_dir / "db" / name)


def machine_facts() -> dict[str, str]:
    """Describe the machine: CPUs, memory, kernel, Trivy, Python and Compose versions."""
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    trivy = subprocess.run(
        [str(REAL_TRIVY), "--version"], capture_output=True, text=True, check=False
    )
    compose = subprocess.run(
        ["docker-compose", "version", "--short"], capture_output=True, text=True, check=False
    )
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "hullcheck": _source_revision(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model or "unknown",
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "kernel": os.uname().release,
        "trivy": trivy.stdout.splitlines()[0] if trivy.stdout else "unknown",
        "python": sys.version.split()[0],
        "docker_compose": compose.stdout.strip() or "unknown",
    }


def _source_revision() -> str:
    """Name the commit of the measured source tree, and whether src/ had uncommitted changes."""
    head = subprocess.run(
        ["git", "-C", str(REPOSITORY_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    status = subprocess.run(
        ["git", "-C", str(REPOSITORY_ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = " with uncommitted changes in src/" if status.stdout.strip() else ""
    return f"commit {head.stdout.strip()}{dirty}"
