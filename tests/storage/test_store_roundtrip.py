"""Saving runs to the history store and reading them back."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from history_samples import (
    failed_image,
    finished_run,
    save_step_by_step,
    scanned_debian_image,
    scanner_info,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullcheck.analysis.models import AffectedPackage, Finding, ImageFindings, Severity
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind
from hullcheck.run import RunRecord, RunStatus
from hullcheck.scanning.models import FailureClass, ImageScan, ScanStatus
from hullcheck.storage import HistoryStore, RunNotFoundError, StorageError


def test_run_round_trips_exactly(store: HistoryStore) -> None:
    record = finished_run()

    run_id = save_step_by_step(store, record, pid=os.getpid())
    loaded = store.load_run(run_id)

    assert loaded.run_id == run_id
    assert loaded == record.model_copy(update={"run_id": run_id})


def test_round_trip_survives_reopen(history_path: Path) -> None:
    record = finished_run()
    with HistoryStore.open(history_path) as store:
        run_id = save_step_by_step(store, record, pid=os.getpid())

    with HistoryStore.open(history_path) as store:
        loaded = store.load_run(run_id)

    assert loaded == record.model_copy(update={"run_id": run_id})


def test_loaded_images_keep_details(store: HistoryStore) -> None:
    run_id = save_step_by_step(store, finished_run(), pid=os.getpid())

    scanned, failed, empty = store.load_run(run_id).images

    assert scanned.findings is not None
    assert [f.vulnerability_id for f in scanned.findings.findings] == [
        "CVE-2023-45853",
        "CVE-2024-0727",
    ]
    assert [p.name for p in scanned.findings.findings[1].packages] == ["libssl3", "openssl"]
    assert scanned.findings.findings[0].vendor_severity == {"nvd": 4, "debian": 1}
    assert not scanned.findings.findings[0].fixable
    assert scanned.findings.findings[1].fixable
    assert failed.findings is None
    assert failed.failure is FailureClass.TIMEOUT
    assert failed.reason == "trivy timed out after 300 s"
    assert empty.status is ScanStatus.NOTHING_ANALYSED
    assert empty.findings is not None
    assert empty.findings.analysed is False
    assert empty.findings.findings == ()


def test_begin_run_stores_given_images(store: HistoryStore) -> None:
    record = finished_run().model_copy(
        update={"status": RunStatus.RUNNING, "finished_at": None, "error": None}
    )

    run_id = store.begin_run(record, pid=os.getpid())
    loaded = store.load_run(run_id)

    assert loaded == record.model_copy(update={"run_id": run_id})


def test_save_image_appends_in_order(store: HistoryStore) -> None:
    run_id = store.begin_run(finished_run().model_copy(update={"images": []}), pid=os.getpid())

    store.save_image(run_id, failed_image())
    store.save_image(run_id, scanned_debian_image())
    store.save_image(run_id, failed_image())

    images = store.load_run(run_id).images
    assert [scan.status for scan in images] == [
        ScanStatus.FAILED,
        ScanStatus.SCANNED,
        ScanStatus.FAILED,
    ]


def test_save_problems_appends(store: HistoryStore) -> None:
    run_id = store.begin_run(_started("scan"), pid=os.getpid())
    first = DiscoveryProblem(kind=ProblemKind.MISSING_FILE, message="a.yaml not found")
    second = DiscoveryProblem(kind=ProblemKind.INVALID_COMPOSE, message="b.yaml is invalid")

    store.save_problems(run_id, [first])
    store.save_problems(run_id, [second])

    assert store.load_run(run_id).problems == [first, second]


@pytest.mark.parametrize(
    "started_at",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    ],
)
def test_times_keep_offset(store: HistoryStore, started_at: datetime) -> None:
    run_id = store.begin_run(RunRecord(command="scan", started_at=started_at), pid=os.getpid())

    loaded = store.load_run(run_id).started_at

    assert loaded == started_at
    assert loaded.utcoffset() == started_at.utcoffset()


def test_finish_run_keeps_begin_scanner(store: HistoryStore) -> None:
    record = _started("scan").model_copy(update={"scanner": scanner_info()})
    run_id = store.begin_run(record, pid=os.getpid())

    store.finish_run(run_id, RunStatus.COMPLETE, scanner=None)

    loaded = store.load_run(run_id)
    assert loaded.scanner == scanner_info()
    assert loaded.status is RunStatus.COMPLETE
    assert loaded.finished_at is not None
    assert loaded.finished_at.tzinfo is not None


def test_finish_run_rejects_running(store: HistoryStore) -> None:
    run_id = store.begin_run(_started("scan"), pid=os.getpid())

    with pytest.raises(ValueError, match="final status"):
        store.finish_run(run_id, RunStatus.RUNNING, scanner=None)


def test_finished_run_rejects_writes(store: HistoryStore) -> None:
    run_id = store.begin_run(_started("scan"), pid=os.getpid())
    store.finish_run(run_id, RunStatus.COMPLETE, scanner=None)

    with pytest.raises(StorageError, match="already complete"):
        store.save_image(run_id, failed_image())
    with pytest.raises(StorageError, match="already complete"):
        store.finish_run(run_id, RunStatus.FAILED, scanner=None)

    assert store.load_run(run_id).images == []


def test_unknown_run_not_found(store: HistoryStore) -> None:
    with pytest.raises(RunNotFoundError, match="Run 42 was not found"):
        store.load_run(42)
    with pytest.raises(RunNotFoundError):
        store.save_image(42, failed_image())


def test_list_runs_sums_totals(store: HistoryStore) -> None:
    run_id = save_step_by_step(store, finished_run(), pid=os.getpid())

    (summary,) = store.list_runs()

    assert summary.run_id == run_id
    assert summary.command == "scan --all"
    assert summary.status is RunStatus.PARTIAL
    assert summary.images_total == 3
    assert summary.images_scanned == 1
    assert summary.images_failed == 1
    assert summary.images_nothing_analysed == 1
    assert summary.critical == 1
    assert summary.high == 1
    assert summary.fixable_critical == 0
    assert summary.fixable_high == 1
    assert summary.trivy_version == "0.76.0"
    assert summary.db_updated_at == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert summary.error == "1 image failed to scan"


def test_list_runs_matches_record_totals(store: HistoryStore) -> None:
    record = finished_run().model_copy(
        update={"images": [scanned_debian_image(), scanned_debian_image()]}
    )
    save_step_by_step(store, record, pid=os.getpid())

    (summary,) = store.list_runs()

    totals = record.totals()
    assert summary.critical == totals.CRITICAL == 2
    assert summary.high == totals.HIGH == 2


def test_list_runs_newest_first(store: HistoryStore) -> None:
    ids = [store.begin_run(_started(f"scan {n}"), pid=os.getpid()) for n in range(5)]

    summaries = store.list_runs(limit=3)

    assert [s.run_id for s in summaries] == ids[::-1][:3]
    assert summaries[0].images_total == 0
    # A run that scanned nothing has no counts, rather than zeros that look clean.
    assert summaries[0].critical is None
    assert summaries[0].trivy_version is None


def test_list_runs_rejects_zero_limit(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_runs(limit=0)


def test_latest_run_filters(store: HistoryStore) -> None:
    complete = save_step_by_step(
        store, finished_run().model_copy(update={"status": RunStatus.COMPLETE}), pid=None
    )
    partial = save_step_by_step(store, finished_run(), pid=None)
    running = store.begin_run(_started("scan"), pid=os.getpid())

    latest = store.latest_run()
    assert latest is not None
    assert latest.run_id == running

    latest_finished = store.latest_run(status=[RunStatus.COMPLETE, RunStatus.PARTIAL])
    assert latest_finished is not None
    assert latest_finished.run_id == partial

    previous = store.latest_run(before=partial, status=RunStatus.COMPLETE)
    assert previous is not None
    assert previous.run_id == complete
    assert previous.images == finished_run().images

    assert store.latest_run(before=complete) is None
    assert store.latest_run(status=RunStatus.FAILED) is None


def test_empty_store_has_no_runs(store: HistoryStore) -> None:
    assert store.list_runs() == []
    assert store.latest_run() is None


def _started(command: str) -> RunRecord:
    return RunRecord(command=command, started_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


_text = st.text(max_size=12)
_optional_text = st.none() | _text
_text_tuple = st.lists(_text, max_size=3).map(tuple)

_packages = st.builds(
    AffectedPackage,
    name=_text,
    installed_version=_optional_text,
    fixed_version=_optional_text,
    status=st.none() | st.sampled_from(["fixed", "affected", "will_not_fix", "new_status"]),
    target=_optional_text,
    package_class=_optional_text,
    package_type=_optional_text,
    path=_optional_text,
)
_findings = st.builds(
    Finding,
    vulnerability_id=_text,
    severity=st.sampled_from(Severity),
    packages=st.lists(_packages, max_size=3).map(tuple),
    title=_optional_text,
    severity_source=_optional_text,
    vendor_severity=st.dictionaries(_text, st.integers(0, 4), max_size=3),
    primary_url=_optional_text,
)
_reports = st.builds(
    ImageFindings,
    artifact_name=_text,
    schema_version=st.integers(0, 10),
    os_family=_optional_text,
    os_name=_optional_text,
    os_eosl=st.booleans(),
    analysed=st.booleans(),
    trivy_version=_optional_text,
    image_id=_optional_text,
    repo_digests=_text_tuple,
    findings=st.lists(_findings, max_size=4).map(tuple),
)
_scans = st.builds(
    ImageScan,
    image=_text,
    image_id=_optional_text,
    repo_digests=_text_tuple,
    services=_text_tuple,
    status=st.sampled_from(ScanStatus),
    failure=st.none() | st.sampled_from(FailureClass),
    reason=_optional_text,
    findings=st.none() | _reports,
    duration_seconds=st.none() | st.floats(allow_nan=False),
)
_problems = st.builds(
    DiscoveryProblem,
    kind=st.sampled_from(ProblemKind),
    message=_text,
    file=st.none() | st.sampled_from([Path("/srv/a/compose.yaml"), Path("relative/b.yml")]),
    service=_optional_text,
    variable=_optional_text,
    blocks_deploy=st.booleans(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scans=st.lists(_scans, max_size=3), problems=st.lists(_problems, max_size=2))
def test_any_images_round_trip(
    store: HistoryStore, scans: list[ImageScan], problems: list[DiscoveryProblem]
) -> None:
    run_id = store.begin_run(_started("scan"), pid=os.getpid())
    for scan in scans:
        store.save_image(run_id, scan)
    store.save_problems(run_id, problems)

    loaded = store.load_run(run_id)

    assert loaded.images == scans
    assert loaded.problems == problems


def test_list_runs_accepts_huge_limit(store: HistoryStore) -> None:
    run_id = store.begin_run(_started("scan"), pid=os.getpid())

    assert [s.run_id for s in store.list_runs(limit=10**30)] == [run_id]
