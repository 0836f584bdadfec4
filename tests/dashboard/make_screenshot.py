"""Write docs/images/dashboard.png: the run page of the sample history in headless Chromium.

Run from the project root: ``.venv/bin/python tests/dashboard/make_screenshot.py``.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from dashboard_samples import seed_history, seeded_runs
from playwright.sync_api import sync_playwright

from hullcheck.dashboard import DashboardConfig, create_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
OUTPUT = Path("docs/images/dashboard.png")


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    runs = seeded_runs()
    # The sample reason carries HTML for the escaping tests; the picture shows a real one.
    failed = runs[3].images[2]
    runs[3].images[2] = failed.model_copy(
        update={"reason": "timeout: analyze error: context deadline exceeded"}
    )
    with tempfile.TemporaryDirectory() as directory:
        history = seed_history(Path(directory) / "history.db", runs)
        server = create_server(DashboardConfig(database=history.path, port=0))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    Path(directory) / "profile",
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1200, "height": 900},
                )
                page = context.new_page()
                page.goto(f"{server.url}runs/{history.newest_finished}")
                page.locator("details#image-2 summary").click()
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output), full_page=True)
                context.close()
        finally:
            server.shutdown()
            thread.join()
            server.server_close()
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
