"""/metrics in the Prometheus text exposition format, checked line by line."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dashboard_client import request
from dashboard_samples import APP, CACHE, DB, DB_UPDATED_AT, SeededHistory, seeded_runs

from hullcheck.dashboard import DashboardServer
from hullcheck.dashboard.metrics import MetricFamily, render_metrics

# Text exposition format 0.0.4: comments, then samples "name{label="value",...} value".
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|Inf)"
HELP_LINE = re.compile(rf"# HELP ({_NAME}) .+")
TYPE_LINE = re.compile(rf"# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE_LINE = re.compile(rf"({_NAME})(\{{(?:{_LABEL}(?:,{_LABEL})*)?\}})? ({_VALUE})(?: -?[0-9]+)?")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: str) -> Samples:
    """Parse exposition text strictly, failing on any line outside the format."""
    assert text.endswith("\n")
    samples: Samples = {}
    typed: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if match := TYPE_LINE.fullmatch(line):
            assert match.group(1) not in typed, f"line {number}: second TYPE for {line!r}"
            typed.add(match.group(1))
            continue
        if HELP_LINE.fullmatch(line):
            continue
        match = SAMPLE_LINE.fullmatch(line)
        assert match is not None, f"line {number} is not in the exposition format: {line!r}"
        name = match.group(1)
        assert name in typed, f"line {number}: sample of {name} before its TYPE line"
        labels = frozenset(LABEL_PAIR.findall(match.group(2) or ""))
        key = (name, labels)
        assert key not in samples, f"line {number}: duplicate sample {line!r}"
        samples[key] = float(match.group(3))
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def fetch_metrics(server: DashboardServer) -> tuple[str, Samples]:
    status, headers, body = request(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    return text, parse_exposition(text)


def test_metrics_describe_newest_finished_run(
    dashboard: DashboardServer, history: SeededHistory
) -> None:
    newest = seeded_runs()[3]

    _, samples = fetch_metrics(dashboard)

    assert sample(samples, "hullcheck_last_run_id") == history.newest_finished
    assert newest.finished_at is not None
    assert sample(samples, "hullcheck_last_run_timestamp_seconds") == newest.finished_at.timestamp()
    assert sample(samples, "hullcheck_last_run_status", status="partial") == 1
    assert sample(samples, "hullcheck_last_run_status", status="complete") == 0
    assert sample(samples, "hullcheck_last_run_status", status="running") == 0
    assert sample(samples, "hullcheck_images_failed") == 1
    assert sample(samples, "hullcheck_images", status="scanned") == 2
    assert sample(samples, "hullcheck_history_runs") == 4


def test_metrics_open_findings(dashboard: DashboardServer) -> None:
    _, samples = fetch_metrics(dashboard)

    expected = {
        (APP, "CRITICAL"): 0,
        (APP, "HIGH"): 1,
        (APP, "MEDIUM"): 0,
        (CACHE, "CRITICAL"): 1,
        (CACHE, "HIGH"): 0,
        (CACHE, "MEDIUM"): 1,
    }
    for (image, severity), value in expected.items():
        assert sample(samples, "hullcheck_open_findings", image=image, severity=severity) == value
    # The database image failed in that run, so its counts are unknown: no sample at all.
    images = {
        dict(labels)["image"] for name, labels in samples if name == "hullcheck_open_findings"
    }
    assert images == {APP, CACHE}
    assert DB not in images


def test_metrics_db_age(dashboard: DashboardServer) -> None:
    before = datetime.now(UTC)
    _, samples = fetch_metrics(dashboard)
    after = datetime.now(UTC)

    age = sample(samples, "hullcheck_vulnerability_db_age_seconds")
    assert age is not None
    assert (
        (before - DB_UPDATED_AT).total_seconds() <= age <= (after - DB_UPDATED_AT).total_seconds()
    )


def test_metrics_label_escaping() -> None:
    family = MetricFamily("hullcheck_test", "A help text with a \\ backslash.")
    family.add(1.5, image='odd"name\\with\nnewline')

    text = render_metrics([family])

    samples = parse_exposition(text)
    assert sample(samples, "hullcheck_test", image='odd\\"name\\\\with\\nnewline') == 1.5
