"""End to end: ``ponder ui`` in a subprocess, the trace page in real headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode, urlsplit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ponder.ui.graph import SIDE

CHROMIUM = os.environ.get("PONDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SKELETON = '[data-testid="stSkeleton"]'

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll Streamlit's health endpoint until the server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`ponder ui` exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"`ponder ui` did not answer on {url} within {timeout:.0f}s")


@contextmanager
def serving(store: Path, log_path: Path, *extra: str) -> Iterator[str]:
    """``ponder ui --store STORE --port ...`` running headless; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PONDER_STORE"}  # --store must win
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", "from ponder.cli import main; main()", "ui",
             "--store", str(store), "--port", str(port), "--headless", *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def ui_server(ui_store: Any, tmp_path: Path) -> Iterator[str]:
    """The UI over the store of a real embedded run."""
    with serving(ui_store.path, tmp_path / "ui.log") as url:
        yield url


def browser() -> Any:
    """Headless Debian Chromium through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
                    "(or set PONDER_CHROMIUM); this test needs a real browser")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def test_trace_page_shows_the_graph_code_and_votes(ui_server: str, ui_store: Any,
                                                   tmp_path: Path) -> None:
    branch = next(b for b in ui_store.result.branches if b.code)
    with browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{ui_server}/trace?run={ui_store.solve_run}")
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Trace")', timeout=60_000)
        page.wait_for_function(f"() => !document.querySelector('{SKELETON}')", timeout=60_000)
        graph = page.locator('[data-testid="stEChartsChart"]')
        graph.locator("canvas").first.wait_for(timeout=30_000)
        codes = page.locator('[data-testid="stCode"]')
        codes.filter(has_text=branch.code.strip().splitlines()[0]).first.wait_for(timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Branches side by side").is_visible()
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1  # the vote tally
        page.screenshot(path=str(tmp_path / "trace.png"))

        box = graph.bounding_box()
        assert box is not None and box["height"] > 150
        # The problem node sits at the graph's left edge, halfway down: click it.
        page.mouse.click(box["x"] + SIDE, box["y"] + box["height"] / 2)
        page.wait_for_selector('h3:has-text("#1 problem")', timeout=30_000)
        page.mouse.move(0, 0)  # end the hover highlight before the picture
        page.screenshot(path=str(tmp_path / "trace-problem.png"))
        chromium.close()


@pytest.fixture
def hostile_server(hostile_store: Any, tmp_path: Path) -> Iterator[str]:
    """The UI over a store of hostile text."""
    with serving(hostile_store.path, tmp_path / "ui.log") as url:
        yield url


CANARY = "ponder-canary"  # in every URL and id of the hostile store (tests/ui/conftest.py)
INJECTED = f"""() => {{
    const found = [];
    const selectors = ['[id^="{CANARY}"]', 'img[src*="{CANARY}"]', '#pcx', 'img[src*="pc1"]',
                       '.katex', 'img[alt="Streamlit logo"]', '[aria-label="home icon"]'];
    for (const el of document.querySelectorAll(selectors.join(','))) {{
        found.push(el.outerHTML.slice(0, 160));
    }}
    // A link is injected when it leads to a canary path. The app's own links (breadcrumbs,
    // step links, headings' "#slug" anchors) carry the hostile ids URL-encoded in their
    // query or fragment only.
    for (const el of document.querySelectorAll('a[href*="{CANARY}"]')) {{
        if (new URL(el.href, location.href).pathname.includes('{CANARY}')) {{
            found.push(el.outerHTML.slice(0, 160));
        }}
    }}
    for (const el of document.querySelectorAll('.stMarkdownColoredText, strong, em')) {{
        const text = el.textContent;
        if (text === '{CANARY}-red' || text === 'bold' || text.startsWith('{CANARY}')) {{
            found.push(el.outerHTML.slice(0, 160));
        }}
    }}
    return found;
}}"""


def guarded_page(pw: Any, url: str, leaks: list[str]) -> tuple[Any, Any]:
    """Chromium and a page that lets the UI's own requests through and stops and records in
    ``leaks`` anything an injection asks for: another origin, or a canary path (the UI's own
    URLs may carry hostile ids in their query, never in their path)."""

    def guard(route: Any) -> None:
        wanted = route.request.url
        path = urlsplit(wanted).path
        if wanted.startswith(url) and CANARY not in path and "/pc1" not in path:
            route.continue_()
        else:
            leaks.append(wanted)
            route.abort()

    chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = chromium.new_context(viewport={"width": 1400, "height": 2400})
    context.route("**/*", guard)
    return chromium, context.new_page()


def loaded(page: Any, title: str) -> None:
    """Wait until a page's title is drawn and Streamlit's loading skeleton is gone."""
    page.wait_for_selector(f'[data-testid="stMain"] h1:has-text("{title}")', timeout=60_000)
    page.wait_for_function(f"() => !document.querySelector('{SKELETON}')", timeout=60_000)
    page.wait_for_load_state("networkidle", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_hostile_text_renders_as_text_and_fetches_nothing(
        hostile_server: str, hostile_store: Any, tmp_path: Path) -> None:
    url, canary = hostile_server, hostile_store.canary
    assert CANARY == hostile_store.marker
    leaks: list[str] = []
    with browser() as pw:
        chromium, page = guarded_page(pw, url, leaks)
        injected: list[str] = []
        for path, title in (("runs", "Runs"), ("run", "Run"), ("search", "Search results"),
                            ("trace", "Trace")):
            page.goto(f"{url}/{path}")
            loaded(page, title)
            injected += page.evaluate(INJECTED)
        assert (injected, leaks, canary.hits) == ([], [], [])
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert f"<b id={CANARY}-answer>b</b>" in text and "![x](" in text, text[:2000]
        assert "` <img src=" in page.locator('[data-testid="stCaptionContainer"]').filter(
            has_text="value:").first.inner_text()  # the backtick stays inside the caption
        values = page.locator('[data-testid="stMetricValue"]')
        values.filter(has_text="![x](").first.wait_for(timeout=30_000)
        answers = [a.replace("\u200b", "")  # the zero-width seams that break autolinks
                   for a in values.all_inner_texts()]
        assert any(f"![x]({canary.origin}/{CANARY}-answer-md.png)" in a for a in answers), answers
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0  # item 7

        tips = hover_every_node(page)
        injected += page.evaluate(INJECTED)
        assert any(hostile_store.leader in tip for tip in tips), tips
        assert any(hostile_store.status in tip for tip in tips), tips
        page.screenshot(path=str(tmp_path / "hostile.png"))
        chromium.close()
    assert injected == [] and leaks == [] and canary.hits == []


def hover_every_node(page: Any) -> list[str]:
    """Hover each node of the one-row trace graph; return the tooltips' texts."""
    graph = page.locator('[data-testid="stEChartsChart"]')
    graph.locator("canvas").first.wait_for(timeout=30_000)
    box = graph.bounding_box()
    assert box is not None
    steps = ["problem", "reason", "code", "execute", "vote", "result"]
    gap = (box["width"] - 2 * SIDE) / (len(steps) - 1)
    tips = []
    for i, step in enumerate(steps):
        page.mouse.move(box["x"] + SIDE + i * gap, box["y"] + box["height"] / 2)
        # The tooltip names the step it belongs to ("execute · 0.50s · 3 tokens").
        page.wait_for_function("([el, step]) => el.innerText.includes(step + ' · ')",
                               arg=[graph.element_handle(), step], timeout=10_000)
        tips.append(graph.evaluate("el => el.innerText"))
    page.mouse.move(0, 0)
    return tips


def test_hostile_text_on_the_compare_page_renders_as_text(
        hostile_store: Any, tmp_path: Path) -> None:
    """Run names, strategies, answers and ids written by a model or a dataset, set side by
    side on the Compare page: nothing is injected, fetched or linked."""

    from .conftest import add_hostile_rerun

    second = add_hostile_rerun(hostile_store)
    canary = hostile_store.canary
    with serving(hostile_store.path, tmp_path / "ui.log") as url:
        leaks: list[str] = []
        with browser() as pw:
            chromium, page = guarded_page(pw, url, leaks)
            page.goto(f"{url}/compare?{urlencode({'a': hostile_store.run_id, 'b': second})}")
            loaded(page, "Compare runs")
            page.get_by_text("Problems that flipped").wait_for(timeout=30_000)
            page.get_by_text("1 fixed in B, 0 broken in B").wait_for(timeout=30_000)
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
            injected = page.evaluate(INJECTED)
            text = page.locator('[data-testid="stMain"]').inner_text()
            pickers = " ".join(page.evaluate(
                """() => [...document.querySelectorAll('[data-testid="stSelectbox"]')]
                       .map(el => el.innerText + ' ' + [...el.querySelectorAll('input')]
                       .map(i => i.value).join(' '))"""))
            page.screenshot(path=str(tmp_path / "hostile-compare.png"))
            chromium.close()
    assert (injected, leaks, canary.hits) == ([], [], [])
    # Both runs' names are shown as their characters (the pickers' labels), and so is the
    # strategy on the chart's axis.
    assert f"<b id={CANARY}-name>b</b>" in pickers and f"<b id={CANARY}-name2>b</b>" in pickers, \
        pickers
    assert f"pot![x]({canary.origin}/{CANARY}-s-m" in text, text
    assert "not found" not in text  # both hostile ids, URL-encoded, name their runs


def shots(tmp_path: Path) -> Path:
    """Where pictures go: ``$PONDER_SCREENSHOTS`` (docs/ takes them from there), else tmp."""
    folder = Path(os.environ.get("PONDER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_live_solve_shows_its_progress_reattaches_on_reload_and_cancels(
        tmp_path: Path) -> None:
    """The solve runs in the server's background on the embedded models: the page shows its
    clock, its steps as they finish and the text being generated, a reload follows the same
    run from the URL, and Cancel ends it ``cancelled``."""
    from ponder.store import Store

    store = tmp_path / "live.db"
    with serving(store, tmp_path / "ui.log") as url, browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(f"{url}/solve")
        loaded(page, "Solve")
        page.get_by_label("Question").fill("Sam has 3 apples and buys 4 more. How many now?")
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Strategy").click()
        page.get_by_role("option", name="verified", exact=True).click()  # reason + code: long
        page.get_by_label("Samples").fill("8")
        page.get_by_text("Stop early").click()  # every sample: the run outlasts the test
        page.get_by_role("button", name="Solve").click()
        page.wait_for_url("**live=run-**", timeout=60_000)
        run_id = page.url.split("live=")[1].split("&")[0]
        page.get_by_text("Elapsed").wait_for(timeout=30_000)
        # Tokens arrive while a step is still running: the text shows before its step ends.
        page.locator('[data-testid="stCode"]').first.wait_for(timeout=120_000)
        page.get_by_text("#3 reason").first.wait_for(timeout=120_000)  # steps as they finish
        page.screenshot(path=str(shots(tmp_path) / "live-solve.png"))
        assert Store(store).require_run(run_id).status == "running"

        page.reload()  # the page comes back to the same run, still going
        page.get_by_text("Elapsed").wait_for(timeout=60_000)
        page.get_by_text(run_id).first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelled after").wait_for(timeout=60_000)
        chromium.close()
    run = Store(store).require_run(run_id)
    assert run.status == "cancelled" and "cancelled" in run.meta["error"]
    assert run.strategies == ["verified"] and list(Store(store).results(run_id)) == []
