"""The Solve page's engine: progress arrives branch by branch, then the stored result."""

from __future__ import annotations

import time
from pathlib import Path

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.events import BranchFinished, VoteCounted
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Branch, Vote
from ponder.ui.live import LiveJob, LiveJobs, LiveSolve


def finished(job: LiveJob, timeout_s: float = 60.0) -> LiveJob:
    deadline = time.monotonic() + timeout_s
    while job.finished is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.finished is not None, "the live solve did not finish"
    return job


def test_a_live_solve_folds_every_branch_in_and_the_run_is_stored(tmp_path: Path) -> None:
    model = register_script("ui-live", lambda messages, i: f"The answer is {6 if i == 2 else 5}.")
    config = load_config(None, store=tmp_path / "live.db",
                         roles={"reasoner": RoleConfig(model=model),
                                "standard": RoleConfig(model=model)})
    store = Store(config.store)
    jobs = LiveJobs()
    job = finished(jobs.start("What is 2 + 3?", "self-consistency", config,
                              SolveOptions(samples=3, early_stop=False), store))
    live = job.live
    assert job.status == "done" and jobs.get(live.run_id) is job
    assert sorted(b.answer for b in live.branches) == ["5", "5", "6"]
    assert [row["verdict"] for row in live.rows()] == ["unverified"] * 3
    assert [step.node for step in live.steps][0] == "problem"
    assert live.result is not None and live.result.answer == "5"
    assert live.tally()["5"].count == 2 and live.tally()["6"].count == 1

    run = store.require_run(live.run_id)
    assert run.status == "done" and run.kind == "solve"
    assert run.meta == {"source": "ui", "ponder": ponder.__version__}
    assert store.result(live.run_id, live.problem_id).answer == "5"
    nodes = [e.node for e in store.events(live.run_id)]
    assert nodes.count("reason") == 3 and "vote" in nodes and "result" in nodes


def test_the_tally_before_any_vote_counts_finished_branches_as_the_vote_does() -> None:
    live = LiveSolve(run_id="r", problem_id="p", strategy="verified")
    finished = [("7", "verified"), ("7", "refuted"), (None, "no_answer")]
    for index, (answer, verdict) in enumerate(finished):
        live.apply(BranchFinished(branch=Branch(index=index, answer=answer, verdict=verdict)))
    # The voter's own evidence table (prose weight 0.25): a verified pair 1.25, a refuted
    # pair max(0.25, 0.75) = 0.75.
    assert live.tally() == {"7": Vote(count=2, weight=2.0, verified=1)}
    assert live.current_leader() == "7"
    live.apply(VoteCounted(leader="8", votes={"8": Vote(count=1, weight=0.9, verified=1)}))
    assert live.current_leader() == "8" and live.tally()["8"].weight == 0.9


def test_a_run_that_fails_inside_is_left_failed_never_running(tmp_path: Path) -> None:
    model = register_script("ui-live-nobox", lambda messages, i: "```python\nanswer(5)\n```")
    config = load_config(None, store=tmp_path / "live.db", sandbox={"backend": "e2b"},
                         roles={"reasoner": RoleConfig(model=model),
                                "standard": RoleConfig(model=model)})
    store = Store(config.store)
    job = finished(LiveJobs().start("What is 2 + 3?", "pot", config, SolveOptions(samples=2),
                                    store))
    assert job.status == "failed" and "E2B_API_KEY" in (job.error or "")
    [run] = store.list_runs()
    assert run.status == "failed" and "E2B_API_KEY" in run.meta["error"]


def test_every_stage_the_sampling_moves_through_is_kept_in_order() -> None:
    from ponder.events import StageChanged

    live = LiveSolve(run_id="r", problem_id="p", strategy="escalate")
    assert live.stages == []
    for role, samples in (("reasoner", 4), ("judge", 2)):
        assert live.apply(StageChanged(run_id="r", problem_id="p", strategy="escalate",
                                       role=role, samples=samples))
    assert [(s.role, s.samples) for s in live.stages] == [("reasoner", 4), ("judge", 2)]
