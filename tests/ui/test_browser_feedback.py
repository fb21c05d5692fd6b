"""Real Chromium: a label set on the trace page survives a reload and takes the trace out of
the SFT export; a live solve that has finished reads as finished, before and after a reload.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from ponder.eval.export import export_run
from ponder.store import Store
from ponder.types import Branch, Problem, Result

from .test_browser import CHROMIUM, CHROMIUM_ARGS, browser, loaded, serving

pytestmark = pytest.mark.slow


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PONDER_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sft(path: Path, run: str) -> list[dict[str, object]]:
    out = io.StringIO()
    store = Store(path)
    try:
        export_run(store, run, "sft", out)
    finally:
        store.close()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def labelled_store(path: Path) -> str:
    """One solve whose verified, correct branch the SFT export takes."""
    store = Store(path)
    run = store.create_run(kind="solve", name="to-label", strategies=["pot"],
                           config={"roles": {"reasoner": "local/gemma-3-270m"}})
    store.add_problem(run.id, Problem(id="p1", question="What is 6 × 7?", reference="42"))
    store.save_result(Result(
        run_id=run.id, problem_id="p1", strategy="pot", answer="42", reference="42",
        correct=True, confidence=0.9, confidence_parts={"status": "verified", "verified": 1},
        branches=[Branch(index=0, answer="42", text="6 × 7 = 42", verdict="verified",
                         rewards={"accuracy": 1.0, "format": 1.0})]))
    store.update_run(run.id, status="done")
    store.close()
    return run.id


def test_a_label_set_in_the_browser_survives_a_reload_and_leaves_the_sft_export(
        tmp_path: Path) -> None:
    path = tmp_path / "feedback.db"
    run = labelled_store(path)
    assert len(sft(path, run)) == 1
    with serving(path, tmp_path / "ui.log") as url, browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(f"{url}/trace?run={run}&problem=p1")
        loaded(page, "Trace")
        page.get_by_text("Feedback: not labelled yet").click()
        form = page.locator('[data-testid="stForm"]').first
        form.get_by_text("wrong", exact=True).click()
        form.get_by_role("textbox", name="Corrected answer (optional)").fill("43")
        form.get_by_role("textbox", name="Note (optional)").fill("the reference is off by one")
        form.get_by_role("textbox", name="Your name").fill("ana")
        form.get_by_role("button", name="Save label").click()
        page.get_by_text("human: wrong").first.wait_for(timeout=30_000)
        page.reload()
        loaded(page, "Trace")
        page.get_by_text("human: wrong").first.wait_for(timeout=30_000)
        page.get_by_text("Feedback: labelled wrong by ana").click()
        page.locator("p").filter(has_text="the reference is off by one").first.wait_for()
        page.wait_for_timeout(800)  # the expander's opening animation
        page.screenshot(path=str(shots(tmp_path) / "feedback.png"))
        chromium.close()
    [item] = Store(path).feedback(run)
    assert (item.label, item.answer, item.author) == ("wrong", "43", "ana")
    assert sft(path, run) == []  # wrong, and its answer (42) is not the corrected one


def test_a_finished_live_solve_shows_no_cancel_and_no_live_text(tmp_path: Path) -> None:
    """A one-sample program-of-thought solve on the embedded model, followed to its end and
    then reloaded: the answer and its verdict, never "Solving with", Cancel or "Being
    written now" left over from the live view."""
    store = tmp_path / "live.db"
    with serving(store, tmp_path / "ui.log") as url, browser() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(f"{url}/solve")
        loaded(page, "Solve")
        page.get_by_label("Question").fill("What is 2 + 3?")
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Strategy").click()
        page.get_by_role("option", name="pot", exact=True).click()
        page.get_by_label("Samples").fill("1")
        page.get_by_role("button", name="Solve").click()
        page.wait_for_url("**live=run-**", timeout=60_000)
        page.get_by_text("Answer:").first.wait_for(timeout=240_000)
        for when in ("finished", "reloaded"):
            page.get_by_text("Elapsed").wait_for(timeout=60_000)
            text = page.locator('[data-testid="stMain"]').inner_text()
            assert "Solving with" not in text and "Being written now" not in text, (when, text)
            assert page.get_by_role("button", name="Cancel").count() == 0, when
            assert ", confidence " in text, (when, text)  # the verdict badge
            page.reload()
            loaded(page, "Solve")
            page.get_by_text("Answer:").first.wait_for(timeout=60_000)
        chromium.close()
    [run] = Store(store).list_runs()
    assert run.status == "done"
