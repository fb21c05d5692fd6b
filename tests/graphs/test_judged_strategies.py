"""Scripted judges driving ``beam``, ``best-of-n`` and the judge-weighted vote: the choices
they make, in both ways of reading a score, and 'no score' visible in the trace."""

from __future__ import annotations

import pytest

import ponder
from ponder.config import RoleConfig, load_config
from ponder.errors import ConfigError
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Problem
from ponder.verdict import verdict_of

# Branch i reasons and computes ANSWERS[i]: three say 41, one says 42 (the right one).
ANSWERS = ["41", "41", "42", "41"]


def solver(messages, index):
    prompt = messages[-1]["content"]
    answer = ANSWERS[index % len(ANSWERS)]
    if "Program so far" in prompt:  # a beam step: a wrong line first, then the right one
        done = "x =" in prompt.split("Program so far", 1)[1]
        return "print(x)" if done else ("x = 6 * 8" if index % 2 == 0 else "x = 6 * 7")
    if "python" in prompt.lower() or "program" in prompt.lower():
        return f"```python\nanswer({answer})\n```"
    return f"Let me think. The answer is {answer}."


def _candidate(messages) -> str:
    return messages[-1]["content"].rsplit("Proposed", 1)[-1]


def verdicts(messages, index):
    """Yes to 42 (and to the line that computes it), No to anything else."""
    last = _candidate(messages)
    return "Yes" if "42" in last or "6 * 7" in last else "No"


def scores(messages, index):
    """Thinks, then a score line — except for 41, where it never writes one."""
    last = _candidate(messages)
    if "41" in last:
        return "Hmm, could be."
    return "Fine.\nScore: 0.9" if "42" in last or "6 * 7" in last else "Wrong.\nScore: 0.1"


def gibberish(messages, index):
    return "I cannot tell."


def config(store_path, judge_script, *, style: str = "auto"):
    name = register_script("judged-solver", solver)
    judge = register_script(f"judge-{judge_script.__name__}", judge_script)
    return load_config(None, store=store_path, roles={
        "reasoner": RoleConfig(model=name, max_tokens=64),
        "standard": RoleConfig(model=name, max_tokens=64),
        "judge": RoleConfig(model=judge, style=style, max_tokens=64)})


def events(cfg, result, node):
    return [e for e in Store(cfg.store).events(result.run_id) if e.node == node]


def test_self_consistency_follows_the_majority(store_path):
    result = ponder.solve("What is 6 * 7?", "pot", samples=4, config=config(store_path, verdicts),
                          early_stop=False)
    assert result.answer == "41"


@pytest.mark.parametrize("pick", ["best", "weighted"])
def test_best_of_n_with_a_verdict_judge_picks_the_answer_it_accepts(store_path, pick):
    cfg = config(store_path, verdicts)
    result = ponder.solve("What is 6 * 7?", "best-of-n", samples=4, config=cfg, pick=pick)
    assert result.answer == "42" and result.samples_used == 4
    parts = result.confidence_parts
    assert parts["check"] == "judged" and parts["judge_score"] > 0.9
    badge = verdict_of(result)
    assert (badge.label, badge.check) == ("verified", "judged")
    assert result.models["judge"] == "scripted/judge-verdicts"
    [judged] = events(cfg, result, "judge")
    assert [row["how"] for row in judged.outputs["judged"]] == ["logprob"] * 4
    # Metered on its own node; the three identical 41 branches are judged (and billed) once.
    assert judged.usage.calls == 2
    assert result.usage.calls == 4 * 2 + 2  # reason + code per branch, and the judge
    assert {b.answer: b.rewards["judge"] > 0.5 for b in result.branches} == {"41": False, "42": True}


def test_weighted_vote_combines_judge_scores_with_the_vote(store_path):
    # Two branches each; the judge scores 42 at 0.9 and 43 at 0.1: the weighted vote says 42.
    global ANSWERS
    saved, ANSWERS = ANSWERS, ["43", "42", "43", "42"]
    try:
        cfg = config(store_path, scores, style="reasoning")
        result = ponder.solve("What is 6 * 7?", "best-of-n", samples=4, config=cfg,
                              pick="weighted")
    finally:
        ANSWERS = saved
    assert result.answer == "42"
    assert result.votes["42"].weight > 4 * result.votes["43"].weight
    [vote] = events(cfg, result, "vote")
    assert vote.outputs["pick"] == "weighted" and vote.outputs["judge_score"] == 0.9


def test_a_score_judge_that_gives_no_score_is_seen_in_the_trace(store_path):
    cfg = config(store_path, scores, style="reasoning")
    result = ponder.solve("What is 6 * 7?", "best-of-n", samples=4, config=cfg)
    assert result.answer == "42"
    [judged] = events(cfg, result, "judge")
    rows = {row["branch"]: row for row in judged.outputs["judged"]}
    assert rows[2]["score"] == 0.9 and rows[2]["how"] == "score"
    assert all(rows[i]["score"] is None and "no 'Score" in rows[i]["no_score"] for i in (0, 1, 3))
    assert judged.outputs["no_score"] == 3
    assert any("the judge gave no score for 3 of 4 branches" in n for n in result.notes)
    assert all("judge" not in b.rewards for b in result.branches if b.answer == "41")


def test_without_any_score_best_of_n_falls_back_and_says_so(store_path):
    cfg = config(store_path, gibberish)
    result = ponder.solve("What is 6 * 7?", "best-of-n", samples=4, config=cfg)
    assert result.answer == "41"  # every branch verified: the first one, not a made-up score
    assert result.confidence_parts.get("check") != "judged"
    assert "judge_score" not in result.confidence_parts
    assert any("no score for 4 of 4" in n and "not a Yes/No verdict" in n for n in result.notes)


def test_best_of_n_lets_the_tests_decide_and_the_judge_break_ties(store_path):
    solutions = ["return a - b", "return b + a", "return a + b", "return 3"]

    def coder(messages, index):
        if "Complete this Python function" in messages[-1]["content"]:
            return f"```python\ndef add(a, b):\n    {solutions[index]}\n```"
        return "I will add them."

    def likes(messages, index):  # prefers 'a + b' over 'b + a', and likes 'a - b' most
        last = _candidate(messages)
        return "Score: 1" if "a - b" in last else "Score: 0.8" if "a + b" in last else "Score: 0.3"

    name, judge = register_script("adder", coder), register_script("likes", likes)
    cfg = load_config(None, store=store_path, roles={
        "reasoner": RoleConfig(model=name), "standard": RoleConfig(model=name),
        "judge": RoleConfig(model=judge, style="reasoning")})
    problem = Problem(question="def add(a, b):\n", kind="code",
                      tests="assert add(2, 3) == 5\nassert add(-1, 1) == 0\n")
    result = ponder.solve(problem, "best-of-n", samples=4, config=cfg)
    assert result.answer == "pass" and result.confidence_parts["check"] == "executed"
    [vote] = events(cfg, result, "vote")
    assert vote.outputs["best"] == 2  # of the two passing solutions, the judge's favourite
    assert [r["branch"] for r in vote.outputs["ranked"]][:2] == [2, 1]


# beam --------------------------------------------------------------------------------------
BEAM = {"beam_width": 1, "beam_expand": 2, "beam_depth": 3}


def test_beam_with_log_probabilities_alone_keeps_the_first_line(store_path):
    # Scripted log-probabilities are all equal: the first proposal (6 * 8) survives.
    result = ponder.solve("What is 6 * 7?", "beam", config=config(store_path, verdicts), **BEAM)
    assert result.answer == "48"


@pytest.mark.parametrize("scorer,style", [("judge", "auto"), ("judge", "reasoning"),
                                          ("sum", "auto")])
def test_beam_scored_by_the_judge_keeps_the_line_it_accepts(store_path, scorer, style):
    cfg = config(store_path, scores if style == "reasoning" else verdicts, style=style)
    result = ponder.solve("What is 6 * 7?", "beam", config=cfg, beam_scorer=scorer, **BEAM)
    assert result.answer == "42" and result.stopped == "search_complete"
    judged = events(cfg, result, "judge")
    assert len(judged) == 2  # one per round: the two first lines, then two print lines
    first = {row["step"]: row["score"] for row in judged[0].outputs["judged"]}
    assert first["x = 6 * 7"] > 0.5 > first["x = 6 * 8"]
    assert result.models["judge"] == cfg.role("judge").model
    # Judge calls count in the run: two first lines, then the two identical print lines once.
    assert [e.usage.calls for e in judged] == [2, 1]
    assert result.usage.calls == sum(e.usage.calls for e in events(cfg, result, "expand")) + 3
    kept = events(cfg, result, "prune")[0].outputs["kept"]
    assert kept[0]["code"] == "x = 6 * 7\n" and kept[0]["judge"] > 0.5


def test_beam_ranks_steps_the_judge_could_not_score_last(store_path):
    def fussy(messages, index):  # no score for the right line, a low one for the wrong line
        return "no idea" if "6 * 7" in _candidate(messages) else "Score: 0.2"

    cfg = config(store_path, fussy, style="reasoning")
    result = ponder.solve("What is 6 * 7?", "beam", config=cfg, beam_scorer="judge", **BEAM)
    assert result.answer == "48"  # the scored step beats the unscored one, never a made-up 0.5
    [first, *_] = events(cfg, result, "judge")
    assert first.outputs["no_score"] == 1
    assert any("the judge gave no score for some steps" in n for n in result.notes)


def test_beam_stops_at_the_budget(store_path):
    cfg = config(store_path, verdicts)
    result = ponder.solve("What is 6 * 7?", "beam", config=cfg, beam_scorer="judge",
                          budget_tokens=1, **BEAM)
    assert result.stopped == "budget_tokens" and result.samples_used == 2


def test_beam_settings_are_checked(store_path):
    with pytest.raises(ConfigError, match="beam_scorer"):
        ponder.solve("What is 6 * 7?", "beam", config=config(store_path, verdicts),
                     beam_scorer="vibes")


def test_ponder_strategies_lists_best_of_n_with_its_judge_role(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    listing = subprocess.run([str(Path(sys.executable).with_name("ponder")), "strategies", "--json"],
                             capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["best-of-n"]["roles"] == ["reasoner", "judge"] and rows["best-of-n"]["runs_code"]
    assert rows["best-of-n"]["settings"] == {"pick": "best"}
    assert rows["beam"]["settings"]["beam_scorer"] == "auto"
