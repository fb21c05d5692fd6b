"""End to end: ``ponder ui`` in a subprocess, the trace page in real headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


@pytest.fixture
def ui_server(ui_store: Any, tmp_path: Path) -> Iterator[str]:
    """``ponder ui --store ... --port ...`` running headless; yields its base URL."""
    port = free_port()
    log = (tmp_path / "ui.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k != "PONDER_STORE"}  # --store must win
    server = subprocess.Popen(
        [sys.executable, "-c", "from ponder.cli import main; main()", "ui",
         "--store", str(ui_store.path), "--port", str(port), "--headless"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


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
        page.wait_for_selector('h4:has-text("#1 problem")', timeout=30_000)
        page.mouse.move(0, 0)  # end the hover highlight before the picture
        page.screenshot(path=str(tmp_path / "trace-problem.png"))
        chromium.close()
