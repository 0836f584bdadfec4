"""Render a benchmark session as the Markdown page docs/benchmarks.md.

The page is regenerated on every run. Text between the NOTES markers (the analysis written
by hand) is carried over from the existing page, so a new run does not lose it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.measure import RunResult
from bench.scenarios import NOTIFY_ONLY_TOOL, SCENARIOS, Outcome

NOTES_BEGIN = "<!-- NOTES: kept when bench/run.py rewrites this page -->"
NOTES_END = "<!-- END NOTES -->"

LOOP = "loop (vuln)"
LOOP_DEFAULT = "loop (vuln+secret)"
HULLCHECK = "hullcheck"

TRIVY_KINDS = ("image", "sbom", "convert", "rootfs", "--version")
REQUEST_KINDS = ("manifest HEAD", "manifest GET", "blob GET", "blob HEAD", "ping GET", "tags GET")

MAX_OVERHEAD_SHARE = 0.05
MAX_PEAK_RSS_BYTES = 150_000_000


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None
    """None when the runs it needs are missing."""
    comparison_only: bool = False
    """True for the notify-only variant of c, which the targets do not name."""


@dataclass(frozen=True)
class EstateFacts:
    images: int
    by_base: dict[str, int]
    layer_references: int
    distinct_layers: int
    packages_per_image: list[int]
    high_critical_per_image: list[int]
    all_findings_per_image: list[int]


def carried_notes(previous: str | None) -> str:
    """Return the hand-written notes of an earlier page, or a placeholder."""
    if previous:
        match = re.search(
            re.escape(NOTES_BEGIN) + r"\n(.*?)" + re.escape(NOTES_END), previous, re.S
        )
        if match:
            return match.group(1)
    return "No analysis written yet.\n\n"


def _seconds(value: float) -> str:
    return f"{value:.2f}"


def _counts(counter: dict[str, int] | None, kinds: Sequence[str]) -> str:
    if not counter:
        return "none"
    parts = [f"{counter[kind]} {kind}" for kind in kinds if counter.get(kind)]
    parts += [
        f"{count} {kind}" for kind, count in sorted(counter.items()) if kind not in kinds and count
    ]
    return ", ".join(parts) or "none"


def _rss(result: RunResult) -> str:
    if result.peak_rss_kib is None:
        return "n/a"
    return f"{result.peak_rss_kib * 1024 / 1e6:.0f} MB"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "n/a"


def scenario_table(results: Sequence[RunResult]) -> list[str]:
    lines = [
        "| run | wall | pulls | in Trivy | rest (share of wall) | Trivy processes | registry requests | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for result in results:
        lines.append(
            f"| {result.tool} | {_seconds(result.wall_seconds)} s | {_seconds(result.pull_seconds)} s"
            f" | {_seconds(result.trivy_seconds)} s"
            f" | {_seconds(result.overhead_seconds)} s ({_share(result.overhead_seconds, result.wall_seconds)})"
            f" | {_counts(result.trivy_calls, TRIVY_KINDS)} | {_counts(result.requests, REQUEST_KINDS)}"
            f" | {_rss(result)} |"
        )
    hullcheck_rows = [result for result in results if result.image_sources or result.update_actions]
    for result in hullcheck_rows:
        sources = ", ".join(
            f"{count} {source}" for source, count in sorted(result.image_sources.items())
        )
        actions = ", ".join(
            f"{count} {action}" for action, count in sorted(result.update_actions.items())
        )
        lines.append("")
        lines.append(
            f"{result.tool}: scan results by source: {sources or 'none'}; update actions: {actions or 'none'}."
        )
    return lines


def _ratio(
    outcome: Outcome, scenario: str, tool: str = HULLCHECK, loop: str = LOOP
) -> float | None:
    baseline = outcome.result(scenario, loop)
    measured = outcome.result(scenario, tool)
    if baseline is None or measured is None or measured.wall_seconds <= 0:
        return None
    return baseline.wall_seconds / measured.wall_seconds


def _check(
    outcome: Outcome, scenario: str, tool: str, test: Callable[[RunResult], bool]
) -> bool | None:
    result = outcome.result(scenario, tool)
    return None if result is None else test(result)


def targets(outcome: Outcome) -> list[Target]:
    """Compare the measured runs with the benchmark's targets."""
    found: list[Target] = []

    speedup_a = _ratio(outcome, "a")
    found.append(
        Target(
            "a: hullcheck at least 10x faster than the loop",
            f"{speedup_a:.1f}x" if speedup_a else "not measured",
            None if speedup_a is None else speedup_a >= 10,
        )
    )
    a = outcome.result("a", HULLCHECK)
    found.append(
        Target(
            "a: no manifest GET and no image analysis by hullcheck",
            f"{a.requests.get('manifest GET', 0)} manifest GET, {a.trivy_calls.get('image', 0)} `trivy image`"
            if a
            else "not measured",
            _check(
                outcome,
                "a",
                HULLCHECK,
                lambda r: not r.requests.get("manifest GET") and not r.trivy_calls.get("image"),
            ),
        )
    )
    speedup_b = _ratio(outcome, "b")
    b = outcome.result("b", HULLCHECK)
    found.append(
        Target(
            "b: hullcheck at least 2x faster, SBOMs matched again",
            (
                f"{speedup_b:.1f}x; {b.trivy_calls.get('sbom', 0)} `trivy sbom`, "
                f"{b.trivy_calls.get('image', 0)} `trivy image`"
            )
            if speedup_b and b
            else "not measured",
            None
            if speedup_b is None or b is None
            else speedup_b >= 2
            and b.trivy_calls.get("sbom", 0) > 0
            and not b.trivy_calls.get("image"),
        )
    )
    for tool in (NOTIFY_ONLY_TOOL, HULLCHECK):
        speedup_c = _ratio(outcome, "c", tool)
        found.append(
            Target(
                f"c: {tool} takes at most half the loop's time",
                f"{1 / speedup_c:.2f} of the loop's time ({speedup_c:.1f}x)"
                if speedup_c
                else "not measured",
                None if speedup_c is None else speedup_c >= 2,
                comparison_only=tool == NOTIFY_ONLY_TOOL,
            )
        )
    for scenario, tool in (("c", NOTIFY_ONLY_TOOL), ("c", HULLCHECK), ("d", HULLCHECK)):
        result = outcome.result(scenario, tool)
        found.append(
            Target(
                f"{scenario}: overhead of {tool} at most 5% of its wall time",
                (
                    f"{_seconds(result.overhead_seconds)} s of {_seconds(result.wall_seconds)} s"
                    f" ({_share(result.overhead_seconds, result.wall_seconds)})"
                )
                if result
                else "not measured",
                None
                if result is None
                else result.overhead_seconds <= MAX_OVERHEAD_SHARE * result.wall_seconds,
                comparison_only=tool == NOTIFY_ONLY_TOOL,
            )
        )
    peaks = [r.peak_rss_kib for r in outcome.results if r.peak_rss_kib is not None]
    peak = max(peaks) if peaks else None
    found.append(
        Target(
            "peak RSS of the hullcheck process at most 150 MB",
            f"{peak * 1024 / 1e6:.0f} MB" if peak else "not measured",
            None if peak is None else peak * 1024 <= MAX_PEAK_RSS_BYTES,
        )
    )
    return found


def _spread(values: Sequence[int]) -> str:
    if not values:
        return "n/a"
    return f"{min(values)} / {statistics.median(values):.0f} / {max(values)}"


def render(
    outcome: Outcome,
    *,
    machine: dict[str, str],
    estate: EstateFacts,
    command_line: str,
    measured_at: datetime,
    loop_commands: Sequence[str],
    hullcheck_commands: Sequence[str],
    notes: str,
    profiled: bool = False,
) -> str:
    """Return the whole page."""
    lines = [
        "# Benchmark: hullcheck against the weekly pull-and-Trivy loop",
        "",
        "The loop that hullcheck replaces, as self-hosting blogs give it, pulls every image of a",
        "Compose project and then runs Trivy on each image. This page compares it with hullcheck",
        "on one lab, in one session, so that both see the same engine, registry, images and DB.",
        f"Generated by `{command_line}` on {measured_at:%Y-%m-%d %H:%M} UTC.",
        *(
            [
                "**Profiled run**: cProfile slows hullcheck's Python code, so its times here are too high."
            ]
            if profiled
            else []
        ),
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for target in targets(outcome):
        verdict = {True: "yes", False: "**no**", None: "n/a"}[target.met]
        if target.comparison_only and target.met is not None:
            verdict = f"{'yes' if target.met else 'no'} (comparison only, not a target)"
        lines.append(f"| {target.name} | {target.measured} | {verdict} |")

    lines += [
        "",
        "## Notes",
        "",
        NOTES_BEGIN,
        notes.rstrip("\n"),
        "",
        NOTES_END,
        "",
        "## Results",
        "",
    ]
    lines += [
        "Times are wall-clock seconds. *pulls* is `docker-compose pull` for the loop, and for",
        "hullcheck the time spent in image pulls. *in Trivy* is the wall time during which at",
        "least one Trivy process ran (SBOM matches run side by side), from a wrapper that logs",
        "each call. *rest* is wall time minus both, which for hullcheck",
        "is its own overhead (Python start-up, discovery, registry checks, history, reports).",
        "Registry requests come from the lab registry's access log. Peak RSS is `VmHWM` of the",
        "hullcheck process itself, without Trivy, the larger of the run's two commands.",
        "",
    ]
    for scenario, title in SCENARIOS.items():
        rows = [result for result in outcome.results if result.scenario == scenario]
        if not rows:
            continue
        heading = f"### {scenario}: {title}" if scenario != "warm-up" else f"### {title}"
        lines += [heading, ""]
        if scenario == "c" and outcome.changed:
            lines += [
                f"Changed ({len(outcome.changed)}): {', '.join(outcome.changed)}. Before each run the engine",
                "is put back to the old revisions, so every run pulls the new ones itself.",
                "",
            ]
        lines += scenario_table(rows)
        lines.append("")

    lines += [
        "## The estate",
        "",
        f"- {estate.images} images: "
        + ", ".join(f"{count} on the {base} base" for base, count in sorted(estate.by_base.items()))
        + ". Node and Python apps are built `FROM` runtime images that are built `FROM` the Debian base,",
        f"  so the images reference {estate.layer_references} layers of which {estate.distinct_layers} are distinct.",
        f"- Packages per image as Trivy finds them (CycloneDX components, min / median / max): {_spread(estate.packages_per_image)}.",
        "  Every Debian image has about 300 dpkg packages in its base; Node apps add 600 to 1,600",
        "  npm packages under `/app/node_modules` plus the 180 of the npm CLI, Python apps 80 to 250",
        "  `dist-info` directories.",
        f"- Findings per image, all severities (min / median / max): {_spread(estate.all_findings_per_image)};",
        f"  HIGH and CRITICAL: {_spread(estate.high_critical_per_image)}.",
        f"- Trivy DB: {outcome.advisories.get(1, 0):,} advisories (UpdatedAt {outcome.db_dates[1]:%Y-%m-%d %H:%M}Z),"
        f" then {outcome.advisories.get(2, 0):,} for scenario b (UpdatedAt {outcome.db_dates[2]:%Y-%m-%d %H:%M}Z),"
        " built by `bench/advisories.py`.",
        "",
        "## Commands",
        "",
        "Run as root from the repository root (it starts its own dockerd and registry on",
        "127.0.0.1 and stops them at the end):",
        "",
        "```sh",
        command_line,
        "```",
        "",
        "The loop, per scenario (Trivy's layer cache `LOOP_CACHE` persists between weeks, as",
        "`~/.cache/trivy` does for a user):",
        "",
        "```sh",
        *loop_commands,
        "```",
        "",
        "hullcheck, per scenario (`HULLCHECK_DATA_DIR` and `HULLCHECK_CACHE` persist between weeks):",
        "",
        "```sh",
        *hullcheck_commands,
        "```",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in machine.items()]
    lines += [
        "- Docker: Debian's docker.io (dockerd with `--storage-driver vfs`), Debian's docker-registry",
        "- Times are from one session and one run per cell; no run was repeated or discarded.",
        "",
    ]
    return "\n".join(lines)
