"""Run Trivy: prepare its vulnerability DB once per run, then scan images one at a time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from hullcheck.analysis.models import ImageFindings
from hullcheck.analysis.trivy_json import ReportFormatError, parse_trivy_report
from hullcheck.scanning.binary import locate_trivy, trivy_version, warn_if_not_pinned
from hullcheck.scanning.local_db import install_local_db, local_db_source
from hullcheck.scanning.models import DatabaseInfo, FailureClass, ScannerError, ScannerInfo
from hullcheck.scanning.probe import checked_version, db_checked, forget_checked, record_checked
from hullcheck.scanning.sbom_merge import MergedGroup, MergeError, group_sboms, split_report

logger = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 600.0
"""How long a scan waits for another hullcheck process to release the Trivy cache."""

DB_DOWNLOAD_ATTEMPTS = 3
DB_DOWNLOAD_BACKOFF_SECONDS = (5.0, 20.0)
DB_DOWNLOAD_TIMEOUT_SECONDS = 900.0
"""Limit of one DB download. A download that hangs this long is not tried again."""

EXIT_GRACE_SECONDS = 60.0
"""Time Trivy gets past its own --timeout to exit before it is killed, capped at the
timeout itself, so a short --scan-timeout is not stretched by a whole minute."""


class DbUpdate(StrEnum):
    """Policy for refreshing the Trivy vulnerability DB at the start of a run."""

    AUTO = "auto"
    """Download a new DB once per run when Trivy reports it due. Fall back to the old one."""
    SKIP = "skip"
    """Use the DB in the cache as it is and never reach the network (offline use)."""


class ImageScanError(ScannerError):
    """One image could not be scanned; the other images go on."""

    def __init__(self, failure: FailureClass, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, failure=failure)


@dataclass
class TrivyOptions:
    cache_dir: Path
    binary: str | None = None
    timeout_seconds: float = 1800.0
    """Per-image limit, passed to Trivy as --timeout (Trivy's own default of 5 minutes is
    too short for multi-gigabyte images such as Home Assistant)."""
    scanners: Sequence[str] = ("vuln",)
    db_update: DbUpdate = DbUpdate.AUTO
    db_repositories: Sequence[str] = ()
    docker_host: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


# Markers in Trivy's log output, matched case-insensitively, in the order they are tested.
_FAILURE_MARKERS: tuple[tuple[FailureClass, tuple[str, ...]], ...] = (
    (FailureClass.TIMEOUT, ("context deadline exceeded", "increase --timeout")),
    (FailureClass.CACHE_LOCKED, ("cache may be in use",)),
    # bbolt maps its file into memory, so reading a truncated DB kills Trivy with SIGBUS.
    (
        FailureClass.DB_CORRUPT,
        ("may be corrupted", "invalid database", "db corrupted", "signal sigbus"),
    ),
    (
        FailureClass.DB_UNAVAILABLE,
        (
            "failed to download vulnerability db",
            "toomanyrequests",
            "cannot be specified on the first run",
            "db error",
        ),
    ),
    (FailureClass.SCANNER_CRASHED, ("panic:", "goroutine ", "segmentation violation")),
    (
        FailureClass.IMAGE_UNAVAILABLE,
        (
            "unable to find the specified image",
            "no such image",
            "unable to inspect the image",
            "manifest unknown",
        ),
    ),
)


def classify_failure(log_text: str) -> FailureClass:
    """Map Trivy's stderr to a failure class; anything unrecognised counts as a crash."""
    lowered = log_text.lower()
    for failure, markers in _FAILURE_MARKERS:
        if any(marker in lowered for marker in markers):
            return failure
    return FailureClass.SCANNER_CRASHED


# Trivy starts each log line with an RFC 3339 time and separates the fields with tabs.
_LOG_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\S+\s+")


def last_error_line(log_text: str) -> str:
    """Return the most telling line of Trivy's log: the last FATAL or ERROR, else the last line.

    The time stamp is dropped and tabs become single spaces, so the line reads as one message.
    The ``* cause`` lines that Trivy prints below "N errors occurred:" are appended, since
    they name the actual cause, such as an engine that does not respond. A Go runtime
    failure ("fatal error: fault" and its "[signal SIGBUS ...]" line) counts as FATAL, since
    the goroutine dump after it names no cause.
    """
    lines = [_LOG_TIME.sub("", line.strip()) for line in log_text.splitlines() if line.strip()]
    lines = [" ".join(line.split()) for line in lines]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if (
            "FATAL" in line
            or "ERROR" in line
            or line.startswith("panic:")
            or line.startswith("fatal error:")
        ):
            causes = []
            for following in lines[index + 1 :]:
                if following.startswith("[signal "):
                    causes.append(following)
                    continue
                if not following.startswith("* "):
                    break
                causes.append(following.removeprefix("* "))
            return " ".join([line, "; ".join(causes)]) if causes else line
    return lines[-1] if lines else "no output"


def read_db_metadata(cache_dir: Path) -> DatabaseInfo | None:
    """Read ``CACHE/db/metadata.json``; None when there is no DB yet."""
    path = cache_dir / "db" / "metadata.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        raise ScannerError(
            f"unreadable Trivy DB metadata {path}: {error}",
            hint=f"delete {path.parent} so the DB is downloaded again",
        ) from error
    if not isinstance(document, dict):
        raise ScannerError(
            f"unexpected Trivy DB metadata layout in {path}", hint=f"delete {path.parent}"
        )
    return DatabaseInfo(
        schema_version=int(document.get("Version", 0)),
        updated_at=_parse_time(document.get("UpdatedAt")),
        next_update=_parse_time(document.get("NextUpdate")),
        downloaded_at=_parse_time(document.get("DownloadedAt")),
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class TrivyScanner:
    """Serialised access to one Trivy binary and one cache directory."""

    def __init__(self, options: TrivyOptions) -> None:
        self.options = options
        self._binary: Path | None = None
        self._info: ScannerInfo | None = None
        self._sbom_writer: ThreadPoolExecutor | None = None
        self._sbom_jobs: list[Future[None]] = []

    @property
    def binary(self) -> Path:
        """The Trivy binary, located on first use so a missing one fails the run, not start-up."""
        if self._binary is None:
            self._binary = locate_trivy(self.options.binary)
        return self._binary

    @property
    def info(self) -> ScannerInfo:
        if self._info is None:
            raise RuntimeError("prepare() must run before the scanner info is read")
        return self._info

    def prepare(self) -> ScannerInfo:
        """Check the binary and make the vulnerability DB ready for this run.

        Raises ScannerError when no usable DB exists, so that no image is reported as
        clean by a scan against a missing or broken DB.
        """
        self.options.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The binary is checked before it runs for anything else, such as a DB download.
        version = checked_version(self.binary, self.options.cache_dir)
        if version is None:
            version = trivy_version(self.binary)
        else:
            warn_if_not_pinned(version, self.binary)
        with self._cache_lock():
            if self.options.db_update is DbUpdate.AUTO:
                self._update_db()
            database = read_db_metadata(self.options.cache_dir)
            if database is None:
                raise ScannerError(
                    f"no Trivy vulnerability DB in {self.options.cache_dir / 'db'}",
                    hint="run once with DB updates on (--db-update auto) and network access, "
                    "or copy a trivy.db and metadata.json there",
                )
            # The same binary and DB files as a run that checked them: no second check.
            if not db_checked(self.binary, self.options.cache_dir):
                self._check_db_usable()
                record_checked(self.binary, self.options.cache_dir, version)
        self._info = ScannerInfo(
            trivy_path=str(self.binary), trivy_version=version, database=database
        )
        logger.info(
            "Trivy %s, vulnerability DB updated %s",
            version,
            database.updated_at.isoformat() if database.updated_at else "at an unknown time",
        )
        return self._info

    def scan_image(self, name: str, *, sbom_output: Path | None = None) -> ImageFindings:
        """Scan one image from the Docker engine and return its findings.

        With ``sbom_output``, the package inventory is also saved there as CycloneDX, so a
        later DB can be matched against it without analysing the image again.
        Raises ImageScanError with a failure class; never returns an empty result for a
        failed scan.
        """
        for attempt in (1, 2):
            try:
                return self._scan_once(name, sbom_output)
            except ImageScanError as error:
                if error.failure is FailureClass.CACHE_LOCKED and attempt == 1:
                    logger.warning("Trivy cache busy while scanning %s; retrying once", name)
                    time.sleep(5)
                    continue
                raise
        raise AssertionError("unreachable")

    def scan_sbom(self, sbom: Path) -> ImageFindings:
        """Match a stored CycloneDX SBOM against the current DB, without the image.

        The memory cache backend leaves the scan cache alone, so this needs no cache lock
        and several matches may run at once.
        """
        arguments = ["sbom", "--cache-backend", "memory", str(sbom)]
        return self._run_report(arguments, subject=f"SBOM {sbom.name}", sbom_output=None)

    def _scan_once(self, name: str, sbom_output: Path | None) -> ImageFindings:
        arguments = ["image", "--image-src", "docker", name]
        # Trivy fails after 5 s when another process has its scan cache open, so hullcheck
        # processes sharing a cache directory take turns.
        with self._cache_lock():
            return self._run_report(arguments, subject=name, sbom_output=sbom_output)

    def _run_report(
        self, arguments: list[str], *, subject: str, sbom_output: Path | None
    ) -> ImageFindings:
        name = subject
        with tempfile.TemporaryDirectory(prefix="hullcheck-scan-") as work:
            output = Path(work) / "report.json"
            self._run_checked(
                self._report_command(arguments, output, list_all_packages=sbom_output is not None),
                subject=subject,
            )
            try:
                document = json.loads(output.read_text(encoding="utf-8"))
                findings = parse_trivy_report(document, source=f"Trivy output for {name}")
                if sbom_output is not None:
                    self._write_sbom_later(output, sbom_output)
                return findings
            except FileNotFoundError as error:
                raise ImageScanError(
                    FailureClass.INVALID_OUTPUT, f"invalid_output: Trivy wrote no report for {name}"
                ) from error
            except (json.JSONDecodeError, ReportFormatError) as error:
                raise ImageScanError(
                    FailureClass.INVALID_OUTPUT, f"invalid_output: {error}"
                ) from error

    def _report_command(
        self, arguments: list[str], output: Path, *, list_all_packages: bool
    ) -> list[str]:
        options = self.options
        return [
            str(self.binary),
            arguments[0],
            *self._common_flags(),
            "--skip-db-update",
            "--skip-java-db-update",
            "--scanners",
            ",".join(options.scanners),
            "--format",
            "json",
            "--timeout",
            f"{int(options.timeout_seconds)}s",
            "--output",
            str(output),
            *(["--list-all-pkgs"] if list_all_packages else []),
            *arguments[1:],
        ]

    def _run_checked(self, command: list[str], *, subject: str) -> None:
        """Run a Trivy scan and raise ImageScanError when it failed or hit a corrupt DB."""
        options = self.options
        hard_limit = options.timeout_seconds + min(EXIT_GRACE_SECONDS, options.timeout_seconds)
        completed = self._run(command, timeout=hard_limit, subject=subject)
        log_text = completed.stderr

        if completed.returncode != 0:
            failure = classify_failure(log_text)
            if failure is FailureClass.DB_CORRUPT:
                forget_checked(self.options.cache_dir)
            raise ImageScanError(failure, f"{failure.value}: {last_error_line(log_text)}")
        # A corrupt-DB warning with exit 0 still means the result cannot be trusted.
        if classify_failure(log_text) is FailureClass.DB_CORRUPT:
            forget_checked(self.options.cache_dir)
            raise ImageScanError(
                FailureClass.DB_CORRUPT, f"db_corrupt: {last_error_line(log_text)}"
            )

    def scan_sboms(
        self, sboms: Sequence[Path], *, workers: int = 1
    ) -> dict[Path, ImageFindings | ImageScanError]:
        """Match stored SBOMs against the current DB, ``workers`` Trivy processes at a time.

        SBOMs of images on one OS release are merged and matched by one process (see
        ``sbom_merge``). The others, and every member of a group whose merged match
        fails, are matched one by one. Each SBOM maps to its findings or to the error of
        its own match.
        """
        groups, singles = group_sboms(sboms)
        results: dict[Path, ImageFindings | ImageScanError] = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            jobs = [pool.submit(self._match_group, group) for group in groups]
            jobs += [pool.submit(self._match_single, path) for path in singles]
            for job in jobs:
                results.update(job.result())
        return results

    def _match_single(self, sbom: Path) -> dict[Path, ImageFindings | ImageScanError]:
        try:
            return {sbom: self.scan_sbom(sbom)}
        except ImageScanError as error:
            return {sbom: error}

    def _match_group(self, group: MergedGroup) -> dict[Path, ImageFindings | ImageScanError]:
        os_name = " ".join(group.os_key)
        count = len(group.members)
        try:
            if group.error is not None:
                raise MergeError(group.error)
            findings = self._match_merged(group)
        except (ImageScanError, MergeError, OSError) as error:
            logger.warning(
                "Matching the %d SBOMs of %s images together failed (%s); matching each alone",
                count,
                os_name,
                error,
            )
            results: dict[Path, ImageFindings | ImageScanError] = {}
            for member in group.members:
                results.update(self._match_single(member.path))
            return results
        logger.info("Matched the SBOMs of %d %s images with one Trivy process", count, os_name)
        return dict(findings)

    def _match_merged(self, group: MergedGroup) -> dict[Path, ImageFindings]:
        with tempfile.TemporaryDirectory(prefix="hullcheck-merged-") as work:
            sbom = Path(work) / "merged.cdx.json"
            sbom.write_text(group.document_text(), encoding="utf-8")
            group.release_document()
            output = Path(work) / "report.json"
            command = self._report_command(
                ["sbom", "--cache-backend", "memory", str(sbom)], output, list_all_packages=False
            )
            self._run_checked(command, subject=f"the merged SBOM of {len(group.members)} images")
            try:
                report = json.loads(output.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ImageScanError(
                    FailureClass.INVALID_OUTPUT, f"invalid_output: merged report: {error}"
                ) from error
        if not isinstance(report, dict):
            raise MergeError("the merged report is not a JSON object")
        findings: dict[Path, ImageFindings] = {}
        for path, document in split_report(report, group, str(sbom)):
            try:
                findings[path] = parse_trivy_report(document, source=f"Trivy output for {path}")
            except ReportFormatError as error:
                raise ImageScanError(
                    FailureClass.INVALID_OUTPUT, f"invalid_output: {error}"
                ) from error
        return findings

    def finish(self) -> None:
        """Wait for the SBOMs still being written; the run calls this before it ends."""
        jobs, self._sbom_jobs = self._sbom_jobs, []
        for job in jobs:
            job.result()

    def _write_sbom_later(self, report: Path, destination: Path) -> None:
        """Convert the report to an SBOM in the background, while Trivy analyses the next image.

        ``trivy convert`` reads only the report and takes no cache lock.
        """
        handle, name = tempfile.mkstemp(prefix="hullcheck-report-", suffix=".json")
        os.close(handle)
        report_copy = Path(name)
        shutil.move(report, report_copy)
        if self._sbom_writer is None:
            self._sbom_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sbom")
        self._sbom_jobs.append(
            self._sbom_writer.submit(self._convert_and_remove, report_copy, destination)
        )

    def _convert_and_remove(self, report: Path, destination: Path) -> None:
        try:
            self._convert_to_sbom(report, destination)
        except ScannerError as error:
            logger.warning("Could not save the SBOM %s: %s", destination, error)
        finally:
            report.unlink(missing_ok=True)

    def _convert_to_sbom(self, report: Path, destination: Path) -> None:
        """Write the report's package list as CycloneDX; a failure only costs the shortcut."""
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = destination.with_suffix(".partial")
        command = [
            str(self.binary),
            "convert",
            "--format",
            "cyclonedx",
            "--output",
            str(partial),
            str(report),
        ]
        completed = self._run(command, timeout=300, subject=f"SBOM of {report.name}")
        if completed.returncode != 0:
            logger.warning(
                "Could not save the SBOM %s: %s", destination, last_error_line(completed.stderr)
            )
            partial.unlink(missing_ok=True)
            return
        partial.chmod(0o600)
        partial.replace(destination)

    def _common_flags(self) -> list[str]:
        flags = [
            "--cache-dir",
            str(self.options.cache_dir),
            "--skip-version-check",
            "--no-progress",
        ]
        if self.options.db_update is DbUpdate.SKIP:
            flags.append("--offline-scan")
        return flags

    def _update_db(self) -> None:
        """Download the DB when Trivy reports it due, and keep an older DB when the download fails.

        A repository given as a local path is installed from disk and nothing is downloaded.
        """
        local = [
            path for path in map(local_db_source, self.options.db_repositories) if path is not None
        ]
        if local:
            install_local_db(local[0], self.options.cache_dir)
            return
        command = [str(self.binary), "image", *self._common_flags(), "--download-db-only"]
        for repository in self.options.db_repositories:
            command += ["--db-repository", repository]

        cleaned = False
        reason = "no attempt made"
        for attempt in range(1, DB_DOWNLOAD_ATTEMPTS + 1):
            try:
                completed = self._run(
                    command, timeout=DB_DOWNLOAD_TIMEOUT_SECONDS, subject="the DB download"
                )
            except ImageScanError as error:
                if error.failure is not FailureClass.TIMEOUT:
                    raise
                # A hung download would hang again, and the DB in the cache may still serve.
                reason = error.message
                logger.warning("Trivy DB download failed: %s", reason)
                break
            if completed.returncode == 0:
                return
            failure = classify_failure(completed.stderr)
            reason = last_error_line(completed.stderr)
            if failure is FailureClass.DB_CORRUPT and not cleaned:
                logger.warning("Trivy DB is corrupt; clearing it and downloading again: %s", reason)
                self._run(
                    [
                        str(self.binary),
                        "clean",
                        "--vuln-db",
                        "--cache-dir",
                        str(self.options.cache_dir),
                    ],
                    timeout=120,
                    subject="DB clean",
                )
                cleaned = True
                continue
            logger.warning(
                "Trivy DB download failed (attempt %d of %d): %s",
                attempt,
                DB_DOWNLOAD_ATTEMPTS,
                reason,
            )
            if attempt < DB_DOWNLOAD_ATTEMPTS:
                time.sleep(
                    DB_DOWNLOAD_BACKOFF_SECONDS[
                        min(attempt - 1, len(DB_DOWNLOAD_BACKOFF_SECONDS) - 1)
                    ]
                )

        if read_db_metadata(self.options.cache_dir) is not None:
            logger.warning("Scanning with the DB already in the cache; the report shows its date")
            return
        raise ScannerError(
            f"Trivy vulnerability DB unavailable: {reason}",
            hint="check network access to the DB repository, set a mirror with --db-repository, "
            "or provide a DB and use --db-update skip",
        )

    def _check_db_usable(self) -> None:
        """Open the DB with an empty rootfs scan, so a corrupt DB fails the run up front."""
        with tempfile.TemporaryDirectory(prefix="hullcheck-probe-") as empty:
            command = [
                str(self.binary),
                "rootfs",
                *self._common_flags(),
                "--skip-db-update",
                "--skip-java-db-update",
                "--scanners",
                "vuln",
                "--cache-backend",
                "memory",
                "--format",
                "json",
                empty,
            ]
            completed = self._run(command, timeout=300, subject="DB check")
        failure = classify_failure(completed.stderr)
        if completed.returncode != 0 or failure is FailureClass.DB_CORRUPT:
            db_dir = self.options.cache_dir.absolute() / "db"
            raise ScannerError(
                f"Trivy cannot use the vulnerability DB {db_dir / 'trivy.db'}: "
                f"{last_error_line(completed.stderr)}",
                hint=f"delete {db_dir} and run with --db-update auto to download a new DB, "
                "or copy a working trivy.db and metadata.json into it",
                failure=failure,
            )

    def _run(
        self, command: list[str], *, timeout: float, subject: str
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.update(self.options.extra_env)
        if self.options.docker_host:
            env["DOCKER_HOST"] = self.options.docker_host
        logger.debug("Running %s", " ".join(command))
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise ImageScanError(
                FailureClass.TIMEOUT,
                f"timeout: Trivy did not finish {subject} within {int(timeout)} s",
                hint="raise --scan-timeout",
            ) from error
        except OSError as error:
            raise ImageScanError(
                FailureClass.SCANNER_MISSING,
                f"scanner_missing: could not run {command[0]}: {error}",
            ) from error

    @contextlib.contextmanager
    def _cache_lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the cache, so no two Trivy processes ever share it."""
        lock_path = self.options.cache_dir / ".hullcheck.lock"
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ScannerError(
                            f"the Trivy cache {self.options.cache_dir} stayed locked by another "
                            f"hullcheck process for {int(LOCK_WAIT_SECONDS)} s",
                            hint="wait for the other run to finish, or use another --cache-dir",
                        ) from None
                    time.sleep(0.5)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def session(self) -> Iterator[TrivyScanner]:
        """Hold the cache lock for a whole run of scans."""
        with self._cache_lock():
            yield self
