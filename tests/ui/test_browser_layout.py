"""Real Chromium at 1280 and 1920 px: tables keep their key columns on screen (measured where
the grid draws each header), captions tell the truth about remote models, Compare shows the
configuration diff, and one verdict badge reads the same in the trace header, the Runs table
and the CLI.

The grid draws on a canvas, so its column boxes are read by recording where the page's
canvases draw text (``fillText``, mapped to CSS pixels): a header drawn outside the grid's
visible width is a clipped column.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.store import Store
from ponder.types import Problem, Result, Usage
from ponder.verdict import verdict_of

from .conftest import rerun_batch
from .test_browser import CHROMIUM, CHROMIUM_ARGS, browser, loaded, serving

pytestmark = pytest.mark.slow

RECORD_TEXT = """(() => {
  const fill = CanvasRenderingContext2D.prototype.fillText;
  window.__drawn = [];
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    try {
      const box = this.canvas.getBoundingClientRect();
      const scale = box.width ? this.canvas.width / box.width : 1;
      const m = this.getTransform();
      // Relative to the canvas: the page's layout may still move it after this frame.
      window.__drawn.push({text: String(text), canvas: this.canvas,
                           x: (m.a * x + m.e) / scale, y: (m.d * y + m.f) / scale,
                           w: this.measureText(text).width * m.a / scale});
    } catch (e) {}
    return fill.call(this, text, x, y, ...rest);
  };
})()"""

HEADERS = """(index) => {
  const grid = document.querySelectorAll('[data-testid="stDataFrame"]')[index];
  const view = grid.querySelector('.dvn-scroller');
  const box = view.getBoundingClientRect();
  const heads = {};
  for (const d of window.__drawn) {  // the header row: the first 40 px of the grid
    if (!grid.contains(d.canvas)) continue;
    const at = d.canvas.getBoundingClientRect();
    const x = at.x + d.x, y = at.y + d.y;
    if (y >= box.top && y <= box.top + 40) heads[d.text] = [x, d.w];
  }
  return {left: box.left, right: box.left + view.clientWidth, scroll: view.scrollWidth,
          heads, page: document.documentElement.scrollWidth, window: window.innerWidth};
}"""


@pytest.fixture
def layout_store(ui_store: Any, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The real store, a second run of its batch configured with fewer samples, and a batch
    run on a remote model that cost nothing."""
    path = tmp_path / "layout.db"
    with sqlite3.connect(ui_store.path) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    store = Store(path)
    try:
        again = rerun_batch(store, ui_store.batch_run)
        with sqlite3.connect(path) as db:  # the rerun drew 2 samples where the first drew 4
            db.execute("UPDATE runs SET config = json_set(config, '$.options.samples', 4)"
                       " WHERE id = ?", (ui_store.batch_run,))
            db.execute("UPDATE runs SET config = json_set(config, '$.options.samples', 2)"
                       " WHERE id = ?", (again,))
        remote = store.create_run(kind="batch", name="remote-free", strategies=["cot"],
                                  config={"roles": {"reasoner": "openai/gpt-4o-mini"}})
        store.add_problem(remote.id, Problem(id="r1", question="What is 1 + 1?", reference="2"))
        store.save_result(Result(run_id=remote.id, problem_id="r1", strategy="cot", answer="2",
                                 reference="2", correct=True,
                                 models={"reasoner": "openai/gpt-4o-mini"},
                                 usage=Usage(prompt_tokens=9, latency_s=0.4)))
        store.update_run(remote.id, status="done")
    finally:
        store.close()
    ids = {"solve": ui_store.solve_run, "batch": ui_store.batch_run, "again": again,
           "remote": remote.id}
    with serving(path, tmp_path / "ui.log") as url:
        yield url, ids


def headers(page: Any, index: int = 0) -> dict[str, Any]:
    page.wait_for_function("() => window.__drawn && window.__drawn.length > 0", timeout=30_000)
    page.wait_for_timeout(500)  # the grid draws a frame after its data arrive
    return page.evaluate(HEADERS, index)


def assert_on_screen(grid: dict[str, Any], keys: list[str], where: str) -> None:
    """Every key column's header is drawn whole inside the grid's visible width, and the page
    itself never scrolls sideways."""
    assert grid["page"] <= grid["window"], f"{where}: the page scrolls sideways"
    for key in keys:
        assert key in grid["heads"], (where, key, sorted(grid["heads"]))
        x, w = grid["heads"][key]
        assert grid["left"] - 1 <= x and x + w <= grid["right"] + 1, (where, key, x, w, grid)


def pinned_stay(page: Any, index: int, grid: dict[str, Any], keys: list[str]) -> None:
    """Scrolled to its far right, a wide table still shows its pinned key columns: the strip
    they occupy looks the same, pixel for pixel."""
    if grid["scroll"] <= grid["right"] - grid["left"] + 1:
        return  # it fits: nothing scrolls
    locator = page.locator('[data-testid="stDataFrame"]').nth(index)
    box = locator.bounding_box()
    edge = max(grid["heads"][k][0] + grid["heads"][k][1] for k in keys)
    strip = {"x": box["x"], "y": box["y"], "width": edge - box["x"] + 2,
             "height": min(box["height"], 80)}
    before = page.screenshot(clip=strip)
    locator.locator(".dvn-scroller").evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    page.wait_for_timeout(600)
    assert locator.locator(".dvn-scroller").evaluate("el => el.scrollLeft") > 0
    assert page.screenshot(clip=strip) == before, "the pinned key columns scrolled away"
    locator.locator(".dvn-scroller").evaluate("el => { el.scrollLeft = 0; }")


@pytest.mark.parametrize("width", [1280, 1920])
def test_key_columns_stay_on_screen_and_captions_tell_the_truth(
        layout_store: tuple[str, dict[str, str]], width: int) -> None:
    url, ids = layout_store
    with browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": width, "height": 1400})
        page.add_init_script(RECORD_TEXT)

        page.goto(f"{url}/runs")
        loaded(page, "Runs")
        grid = headers(page)
        # Defect 2: the question ("what") on screen beside the run, the verdict next.
        assert_on_screen(grid, ["run", "what", "verdict"], f"runs@{width}")
        pinned_stay(page, 0, grid, ["run", "what"])

        page.goto(f"{url}/run?run={ids['batch']}")
        loaded(page, "Run")
        page.get_by_text("Problems × strategies").wait_for()
        tables = page.locator('[data-testid="stDataFrame"]')
        tables.nth(2).locator(".dvn-scroller").wait_for()
        matrix, problems = headers(page, 1), headers(page, 2)
        assert_on_screen(matrix, ["#", "problem", "verified"], f"matrix@{width}")
        pinned_stay(page, 1, matrix, ["#", "problem"])
        assert_on_screen(problems, ["problem", "outcome", "verdict"], f"problems@{width}")

        page.goto(f"{url}/search")
        loaded(page, "Search results")
        assert_on_screen(headers(page), ["run", "problem", "verdict"], f"search@{width}")

        # Defect 3: a remote model at $0 is not called embedded.
        page.goto(f"{url}/run?run={ids['remote']}")
        loaded(page, "Run")
        page.get_by_text("Accuracy against time").wait_for()
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert "embedded" not in text and "No cost was recorded" in text, text
        chromium.close()


def cli_line(result: Result) -> str:
    """The result line ``ponder solve`` prints for ``result``."""
    from ponder.cli.solve_cmd import _print_result

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_result(result)
    return out.getvalue().splitlines()[0]


def test_compare_shows_the_config_diff_and_one_badge_reads_the_same_everywhere(
        layout_store: tuple[str, dict[str, str]], ui_store: Any, tmp_path: Path) -> None:
    url, ids = layout_store
    badge = verdict_of(ui_store.result).line()
    assert cli_line(ui_store.result).endswith(f"[{badge}]")  # the CLI's result line
    with browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 1600})
        page.add_init_script(RECORD_TEXT)

        # Defect 5: why two runs differ comes first.
        page.goto(f"{url}/compare?a={ids['batch']}&b={ids['again']}")
        loaded(page, "Compare runs")
        page.get_by_text("What was configured differently").wait_for()
        drawn = page.evaluate("() => window.__drawn.map(d => d.text)")
        assert "options.samples" in drawn and "4" in drawn and "2" in drawn, drawn[:80]
        assert "What is 2 + 3?" in drawn  # the flipped problems' question

        # One badge: the trace header, the Runs table and the CLI say the same words.
        page.goto(f"{url}/trace?run={ids['solve']}")
        loaded(page, "Trace")
        header = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=badge)
        assert header.first.inner_text().strip() == badge
        page.evaluate("() => { window.__drawn = []; }")
        page.goto(f"{url}/runs")
        loaded(page, "Runs")
        assert badge in [h for h in page.evaluate("() => window.__drawn.map(d => d.text)")]
        chromium.close()
