"""Several threads and processes writing to one history database."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

from history_samples import failed_image, scanned_debian_image

from hullcheck.run import RunRecord, RunStatus
from hullcheck.storage import HistoryStore

_WRITER_CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import UTC, datetime
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])
    from history_samples import scanned_debian_image
    from hullcheck.run import RunRecord, RunStatus
    from hullcheck.storage import HistoryStore

    with HistoryStore.open(Path(sys.argv[1])) as store:
        run_id = store.begin_run(
            RunRecord(command="scan", started_at=datetime.now(UTC)), pid=os.getpid()
        )
        for _ in range(int(sys.argv[3])):
            store.save_image(run_id, scanned_debian_image())
        store.finish_run(run_id, RunStatus.COMPLETE, scanner=None)
    print(run_id)
    """
)


def test_threads_share_one_store(store: HistoryStore) -> None:
    run_id = store.begin_run(
        RunRecord(command="scan", started_at=datetime.now(UTC)), pid=os.getpid()
    )

    def save_images() -> None:
        for _ in range(10):
            store.save_image(run_id, failed_image())

    threads = [threading.Thread(target=save_images) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.load_run(run_id).images) == 40


def test_two_processes_write_at_once(history_path: Path) -> None:
    HistoryStore.open(history_path).close()
    images_per_run = 25
    command = [
        sys.executable,
        "-c",
        _WRITER_CHILD,
        str(history_path),
        str(Path(__file__).parent),
        str(images_per_run),
    ]

    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=120) for child in children]

    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
    run_ids = sorted(int(stdout) for stdout, _ in outputs)
    with HistoryStore.open(history_path) as store:
        for run_id in run_ids:
            run = store.load_run(run_id)
            assert run.status is RunStatus.COMPLETE
            assert run.images == [scanned_debian_image()] * images_per_run
