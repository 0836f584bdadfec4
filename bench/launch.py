"""Run the hullcheck CLI in this process and record, at exit, what the benchmark measures.

Used as ``python -m bench.launch ARGS...`` in place of ``hullcheck ARGS...``. When
``HULLCHECK_BENCH_STATS`` names a file, the process writes its own peak resident set size
(``VmHWM`` of ``/proc/self/status``, so Trivy and other children are not counted) and the
time spent in image pulls there as JSON. ``HULLCHECK_BENCH_PROFILE`` names a cProfile
output file. Nothing of hullcheck itself is changed: pulls are timed by wrapping the
``pull_image`` function that the scan and update pipelines call.
"""

from __future__ import annotations

import atexit
import cProfile
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATS_ENV = "HULLCHECK_BENCH_STATS"
PROFILE_ENV = "HULLCHECK_BENCH_PROFILE"


def peak_rss_kib() -> int:
    """Return this process's peak resident set size in KiB (0 when /proc is unavailable)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class PullTimer:
    """Time spent in ``pull_image`` calls, which the benchmark does not count as overhead.

    Pulls may run side by side, so the time is the union of their intervals.
    """

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.intervals)

    @property
    def seconds(self) -> float:
        total = 0.0
        covered_until = float("-inf")
        for start, end in sorted(self.intervals):
            if end > covered_until:
                total += end - max(start, covered_until)
                covered_until = end
        return total

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.intervals.append((started, time.monotonic()))

        return timed


def main() -> None:
    started = time.monotonic()
    profile_path = os.environ.get(PROFILE_ENV)
    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:
        profiler.enable()

    import hullcheck.orchestrator
    import hullcheck.updater

    pulls = PullTimer()
    # Both pipelines import the function by name, so each module's binding is wrapped.
    wrapped = "pull_image"
    for module in (hullcheck.orchestrator, hullcheck.updater):
        setattr(module, wrapped, pulls.wrap(getattr(module, wrapped)))

    def record() -> None:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
        stats_path = os.environ.get(STATS_ENV)
        if stats_path:
            stats = {
                "peak_rss_kib": peak_rss_kib(),
                "pull_count": pulls.count,
                "pull_seconds": pulls.seconds,
                "seconds_in_process": time.monotonic() - started,
            }
            Path(stats_path).write_text(json.dumps(stats) + "\n", encoding="utf-8")

    atexit.register(record)

    from hullcheck.cli.main import main as hullcheck_main

    sys.argv[0] = "hullcheck"
    hullcheck_main()


if __name__ == "__main__":
    main()
    sys.exit(0)
