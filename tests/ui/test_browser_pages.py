"""Every page in real headless Chromium: URLs that hold, no 404s, the runs table's key
columns on screen at 1400 px, and a screenshot of each page for a person to review.

Screenshots go to ``$PONDER_SCREENSHOTS`` when set (``docs/`` takes its pictures from
there), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.store import Store

from .conftest import rerun_batch
from .test_browser import CHROMIUM, CHROMIUM_ARGS, browser, loaded, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def two_batches(ui_store: Any, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The UI over a copy of the real store with a second run of the batch."""
    path = tmp_path / "pages.db"
    with sqlite3.connect(ui_store.path) as source, sqlite3.connect(path) as copy:
        source.backup(copy)  # the WAL's pages too, which a file copy would miss
    store = Store(path)
    try:
        again = rerun_batch(store, ui_store.batch_run)
    finally:
        store.close()
    ids = {"solve": ui_store.solve_run, "batch": ui_store.batch_run, "again": again}
    with serving(path, tmp_path / "ui.log") as url:
        yield url, ids


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PONDER_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_pages_hold_their_urls_and_show_what_matters(two_batches: tuple[str, dict[str, str]],
                                                     tmp_path: Path) -> None:
    url, ids = two_batches
    folder = shots(tmp_path)
    with browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 2400})
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

        # Defect 3: /runs is the Runs page, not "Page not found".
        page.goto(f"{url}/runs")
        loaded(page, "Runs")
        assert page.get_by_text("Page not found").count() == 0
        # Defect 5: the key columns are on screen at 1400 px without scrolling sideways.
        # The grid draws on a canvas; the columns before "model time (s)" are configured
        # small (75 px), medium (200 px) or 280 px: 200 + 280 + 6 × 75 = 930 px must fit.
        grid = page.locator('[data-testid="stDataFrame"]').first
        scroller = grid.locator(".dvn-scroller").first
        scroller.wait_for()
        width, scrolled = scroller.evaluate("el => [el.clientWidth, el.scrollLeft]")
        assert width >= 930 and scrolled == 0, (width, scrolled)
        page.screenshot(path=str(folder / "runs.png"))

        # Defect 3: a deep link loads without Streamlit probing /run/_stcore/... (404s).
        page.goto(f"{url}/run?run={ids['batch']}")
        loaded(page, "Run")
        page.get_by_text("Problems × strategies").wait_for()
        page.screenshot(path=str(folder / "batch-matrix.png"), full_page=True)

        page.goto(f"{url}/trace?run={ids['solve']}")
        loaded(page, "Trace")
        page.get_by_text("Timeline").first.wait_for()
        page.locator('[data-testid="stEChartsChart"] canvas').first.wait_for()
        page.screenshot(path=str(folder / "verified-trace.png"), full_page=True)
        page.get_by_role("heading", name="Timeline").scroll_into_view_if_needed()
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
        page.screenshot(path=str(folder / "trace-timeline.png"))

        page.goto(f"{url}/compare?a={ids['batch']}&b={ids['again']}")
        loaded(page, "Compare runs")
        page.get_by_text("Problems that flipped").wait_for()
        page.screenshot(path=str(folder / "compare-runs.png"), full_page=True)

        # Defect 2: an unknown run says so instead of showing another run.
        page.goto(f"{url}/trace?run=run-nope")
        loaded(page, "Trace")
        page.get_by_text("Run run-nope not found").wait_for()
        assert "run=run-nope" in page.url
        page.get_by_role("link", name="All runs").click()
        loaded(page, "Runs")
        chromium.close()
    assert missing == [], missing
