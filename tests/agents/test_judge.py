"""The judge on scripted models: both ways of reading a score (a Yes/No verdict's
log-probability, a strict score line), both modes, and 'no score' that is never a number."""

from __future__ import annotations

import asyncio
import math

import pytest

from ponder.agents import judge
from ponder.agents.deps import Deps
from ponder.backends.scripted import LOGPROB
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.models import ModelClient
from ponder.scripted import register_script
from ponder.types import Branch, Completion, ExecResult, Problem

PROBLEM = Problem(question="What is 6 * 7?", reference="42")
YES = (1 + math.exp(LOGPROB)) / 2  # P(yes) when a scripted judge says Yes


def yes_if_42(messages, index):
    """A verdict judge: Yes for a candidate (or a next line) that says 42."""
    body = messages[-1]["content"]
    last = body.rsplit("Proposed", 1)[-1]
    return "Yes" if "42" in last or "6 * 7" in last else "No"


def score_if_42(messages, index):
    """A score judge that thinks first; it cannot format a score for 'unsure' candidates."""
    last = messages[-1]["content"].rsplit("Proposed", 1)[-1]
    if "unsure" in last:
        return "Hard to say, probably fine."
    return "Checked it.\nScore: 0.9" if "42" in last else "That is wrong.\nScore: 0.15"


def deps_for(tmp_path, script, *, style="auto", **options) -> Deps:
    name = register_script(f"judge-{script.__name__}", script)
    cfg = load_config(None, store=tmp_path / "j.db", roles={
        "reasoner": RoleConfig(model=name), "standard": RoleConfig(model=name),
        "judge": RoleConfig(model=name, style=style, max_tokens=64)})
    return Deps(models=ModelClient(cfg), options=SolveOptions(seed=0, **options))


@pytest.mark.parametrize("text,score", [
    ("Score: 0.8", 0.8), ("It adds up.\n\nScore: 1", 1.0), ("Score: 0", 0.0), ("Score:.25", 0.25),
    ("Score: 1.0\n", 1.0), ("Score: 0.8 because", None), ("score: 0.8", None), ("0.8", None),
    ("Score: 80%", None), ("Score: 1.5", None), ("Score: -0.1", None), ("**Score: 0.8**", None),
    ("Score: 0.9\nActually no.", None), ("", None)])
def test_a_score_is_read_only_from_a_strict_last_line(text, score):
    assert judge.parse_score(text) == score


def test_a_verdict_reads_p_yes_from_the_verdict_tokens_log_probability():
    said = lambda text, lps=None, reasoning=None: judge.read_verdict(
        Completion(model="m", text=text, logprobs=lps, reasoning=reasoning))
    assert said("Yes", [-0.1])[:2] == (pytest.approx((1 + math.exp(-0.1)) / 2), "logprob")
    assert said(" no.", [-0.2])[:2] == (pytest.approx((1 - math.exp(-0.2)) / 2), "logprob")
    # A hesitant No (the judge put only 40% on it) still scores below one half.
    assert said("No", [math.log(0.4)])[0] == pytest.approx(0.3)
    assert said("Yes")[:2] == (1.0, "verdict")  # no log-probabilities came back: a hard verdict
    assert said("No", [-0.1], reasoning="hmm")[:2] == (0.0, "verdict")  # logprobs cover thinking
    score, how, why = said("Maybe", [-0.1])
    assert score is None and how is None and "not a Yes/No verdict" in why


def test_outcome_scores_from_a_verdict_judge(tmp_path):
    deps = deps_for(tmp_path, yes_if_42)
    right, wrong = asyncio.run(judge.judge(deps, PROBLEM, ["6 * 7 = 42\nFinal answer: 42",
                                                          "6 * 8 = 48\nFinal answer: 48"],
                                           mode="outcome"))
    assert (right.score, right.how) == (pytest.approx(YES), "logprob")
    assert wrong.score == pytest.approx(1 - YES)
    assert right.usage.calls == wrong.usage.calls == 1 and right.usage.prompt_tokens > 0


def test_a_run_without_log_probabilities_asks_for_a_score_line(tmp_path):
    deps = deps_for(tmp_path, score_if_42, use_logprobs=False)
    [j] = asyncio.run(judge.judge(deps, PROBLEM, ["Final answer: 42"], mode="outcome"))
    assert (j.score, j.how) == (0.9, "score")


def test_an_unparseable_reply_is_no_score_with_the_reason(tmp_path):
    deps = deps_for(tmp_path, score_if_42, style="reasoning")
    scores = asyncio.run(judge.judge(deps, PROBLEM, ["Final answer: 42", "unsure: 41",
                                                     "Final answer: 48"], mode="outcome"))
    assert [j.score for j in scores] == [0.9, None, 0.15]
    assert "no 'Score: <0..1>' last line" in scores[1].why
    assert scores[1].shown()["no_score"] == scores[1].why and scores[1].shown()["score"] is None


def test_process_mode_shows_the_program_so_far_and_the_next_line(tmp_path):
    seen = []

    def spy(messages, index):
        seen.append(messages[-1]["content"])
        return "Yes"

    deps = deps_for(tmp_path, spy)
    [j] = asyncio.run(judge.judge(deps, PROBLEM, ["x = 6\n"], mode="process", steps=["y = x * 7"]))
    assert j.score == pytest.approx(YES)
    assert "x = 6" in seen[0] and "Proposed next line:\n```python\ny = x * 7" in seen[0]


def test_a_repeated_candidate_is_judged_and_billed_once(tmp_path):
    calls = []

    def counting(messages, index):
        calls.append(index)
        return "Yes"

    deps = deps_for(tmp_path, counting)
    first, again = asyncio.run(judge.judge(deps, PROBLEM, ["Final answer: 42"] * 2, mode="outcome"))
    assert len(calls) == 1 and first.score == again.score
    assert first.usage.calls == 1 and again.usage.calls == 0


def test_vote_scale_weighs_unscored_branches_by_the_mean_never_one_half():
    a, b, c = Branch(answer="1"), Branch(answer="2"), Branch(answer="3")
    assert judge.vote_scale({"judged": {a.id: None}}) is None  # nothing scored: a plain vote
    scale = judge.vote_scale({"judged": {a.id: 0.9, b.id: 0.1, c.id: None}})
    assert [scale(a), scale(b), scale(c)] == [0.9, 0.1, pytest.approx(0.5)]
    scale = judge.vote_scale({"judged": {a.id: 0.9, c.id: None}})
    assert scale(c) == 0.9


def test_judge_branch_scores_only_where_no_program_answered(tmp_path):
    deps = deps_for(tmp_path, yes_if_42)
    state = lambda branch, problem=PROBLEM: {"problem": problem, "branch": branch}
    prose = Branch(text="6 * 7 = 42", answer="42")
    judged = asyncio.run(judge.judge_branch(state(prose), deps=deps))["branch"]
    # The score is the branch's judge reward; the verdict stays a program's to give.
    assert judged.rewards["judge"] == pytest.approx(YES) and judged.usage.calls == 1
    assert judged.verdict == "unverified"
    wrong = asyncio.run(judge.judge_branch(state(Branch(text="48", answer="48")), deps=deps))
    assert wrong["branch"].rewards["judge"] < judge.REJECT and wrong["branch"].verdict == "unverified"
    ran = Branch(answer="42", code="print(42)", code_answer="42",
                 execution=ExecResult(status="ok", stdout="42\n"))
    assert asyncio.run(judge.judge_branch(state(ran), deps=deps)) == {}
    code = Problem(question="Write f.", kind="code", tests="assert f() == 1")
    assert asyncio.run(judge.judge_branch(state(prose, code), deps=deps)) == {}
    assert [judge.judged_outcome(s) for s in (None, 0.5, 0.7, 0.3)] == [
        None, None, "accepted", "rejected"]


def test_judge_branch_without_a_score_keeps_no_reward(tmp_path):
    def hedging(messages, index):
        return "Maybe."

    deps = deps_for(tmp_path, hedging)
    branch = Branch(text="6 * 7 = 42", answer="42")
    out = asyncio.run(judge.judge_branch({"problem": PROBLEM, "branch": branch}, deps=deps))
    assert "judge" not in out["branch"].rewards and out["branch"].verdict == "unverified"
    assert out["branch"].usage.calls == 1  # the call was made, and is paid for
