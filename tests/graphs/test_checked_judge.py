"""``checked`` with ``check_with=judge``: a scripted judge checks the reasoning no program
could, and the result, its trace, its verdict badge and the served response name the kind of
check (executed, judged, none)."""

from __future__ import annotations

import pytest

import ponder
from ponder.agents.voter import VoteSettings, assess, evidence_of
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.graphs.registry import get_strategy
from ponder.scripted import register_script
from ponder.serve.protocol import extension
from ponder.store import Store
from ponder.types import Branch, ExecResult, Problem, Result
from ponder.ui import outcome, widgets
from ponder.verdict import verdict_of

QUESTION = "What is 6 * 7?"


def solver(program: str = "print(undefined)"):
    """Programs run ``program`` (by default they crash: no program answers); cross-check
    branch ``i`` reasons 42 for even ``i``, 41 for odd."""

    def script(messages, index):
        prompt = messages[-1]["content"].lower()
        if "python" in prompt or "program" in prompt:
            return f"```python\n{program}\n```"
        return f"Let me think. The answer is {42 if index % 2 == 0 else 41}."
    return script


def yes_to_42(messages, index):
    return "Yes" if "Final answer: 42" in messages[-1]["content"] else "No"


def score_42(messages, index):
    body = messages[-1]["content"]
    return "Checked.\nScore: 0.9" if "Final answer: 42" in body else "Wrong.\nScore: 0.1"


def unparseable(messages, index):
    return "I cannot tell."


def config(store_path, judge_script, program: str = "print(undefined)"):
    model = register_script(f"chkj-solver-{abs(hash(program))}", solver(program))
    judge = register_script(f"chkj-{judge_script.__name__}", judge_script)
    return load_config(None, store=store_path, roles={
        "reasoner": RoleConfig(model=model, max_tokens=64),
        "standard": RoleConfig(model=model, max_tokens=64),
        "judge": RoleConfig(model=judge, max_tokens=64)})


def solve(cfg, **fields):
    return ponder.solve(QUESTION, "checked", samples=4, config=cfg, seed=0, check_samples=2,
                        early_stop=False, **fields)


def judge_events(cfg, result):
    return [e for e in Store(cfg.store).events(result.run_id) if e.node == "judge"]


@pytest.mark.parametrize("judge_script, logprobs", [(yes_to_42, True), (score_42, False)],
                         ids=["verdict", "score-line"])
def test_the_judge_checks_reasoning_no_program_could(store_path, judge_script, logprobs):
    cfg = config(store_path, judge_script)
    result = solve(cfg, check_with="judge", use_logprobs=logprobs)
    assert result.answer == "42"
    parts = result.confidence_parts
    assert (parts["check"], parts["status"]) == ("judged", "verified")
    assert (parts["judged"], parts["rejected"], parts["verified"]) == (1, 0, 0)
    # A judge's Yes is no program's check: the branch verdict and the vote's count stay
    # unverified; the score travels as the branch's judge reward.
    checks = [b for b in result.branches if b.index >= 4]
    assert [(b.answer, b.verdict) for b in checks] == [("42", "unverified"), ("41", "unverified")]
    assert checks[0].rewards["judge"] >= 0.7 and checks[1].rewards["judge"] <= 0.3
    assert [evidence_of(b) for b in checks] == ["judged", "rejected"]
    assert result.votes["42"].verified == 0
    confidence = checks[0].confidence if checks[0].confidence is not None else 1.0
    assert result.votes["42"].weight == pytest.approx(VoteSettings().weight("judged") * confidence)
    badge = verdict_of(result)
    assert (badge.label, badge.check) == ("verified", "judged")
    assert "(judged check)" in badge.line() and "by a judge model" in badge.sentence()
    # The UI's header badge reads the same line, and its checks line counts the judge's.
    assert widgets.verdict_badge(badge).startswith(":green-badge[verified \\(judged check\\)")
    assert outcome.checks(parts) == ("code checks: 0 verified, 0 refuted; "
                                     "judge: 1 accepted, 0 rejected")
    assert result.models["judge"] == f"scripted/chkj-{judge_script.__name__}"
    # The trace: one judge event per cross-check branch, its score and the kind of check.
    events = judge_events(cfg, result)
    assert sorted(e.outputs["outcome"] for e in events) == ["accepted", "rejected"]
    assert all(e.outputs["check"] == "judged" and e.usage.calls == 1 for e in events)
    assert next(e for e in Store(cfg.store).events(result.run_id)
                if e.node == "result").outputs["answer"] == "42"
    # The judge's calls count in the run.
    assert result.usage.calls >= 4 + 2 * 2 + 2


def test_an_unparseable_judge_reply_is_no_score_not_a_pass(store_path):
    cfg = config(store_path, unparseable)
    result = solve(cfg, check_with="judge")
    parts = result.confidence_parts
    assert (parts["check"], parts["status"], parts["judged"]) == ("none", "unchecked", 0)
    assert all("judge" not in b.rewards and b.verdict != "verified" for b in result.branches)
    assert all(evidence_of(b) in ("prose", "none") for b in result.branches)
    events = judge_events(cfg, result)
    assert len(events) == 2
    for e in events:
        assert e.outputs["score"] is None and e.outputs["outcome"] == "no score"
        assert e.outputs["check"] == "none" and "not a Yes/No verdict" in e.outputs["no_score"]
    badge = verdict_of(result)
    assert badge.label != "verified" and badge.check == "none"


def test_without_the_setting_the_judge_is_not_asked(store_path):
    cfg = config(store_path, yes_to_42)
    result = solve(cfg)
    assert "judge" not in result.models
    assert result.confidence_parts["check"] == "none"
    assert all("judge" not in b.rewards for b in result.branches)
    events = judge_events(cfg, result)
    assert len(events) == 2 and all(e.outputs == {"skipped": "check_with=program"} for e in events)
    assert all(e.usage.calls == 0 for e in events)
    assert verdict_of(result).check == "none"


def test_an_executed_program_stands_over_the_judge(store_path):
    # Programs print 41 or 42 by nothing but the script; here they all print 42, but with
    # check_below=1.0 the cross-check still runs: its programs answer, so the judge stays out.
    cfg = config(store_path, yes_to_42, program="print(6 * 7)")
    result = solve(cfg, check_with="judge", check_below=1.0, cross_check="verified")
    assert result.answer == "42" and result.confidence_parts["check"] == "executed"
    assert all(e.outputs.get("skipped") == "a program answered: its executed check stands"
               for e in judge_events(cfg, result))
    assert verdict_of(result).check == "executed"


def test_the_judge_scores_a_reasoning_cross_check_and_the_programs_check_stands(store_path):
    # The default reasoning cross-check writes no program, so the judge scores its reasoning;
    # reasoning 42 agreeing with the executed programs' 42 is an executed check, which
    # outranks the judge's opinion.
    cfg = config(store_path, yes_to_42, program="print(6 * 7)")
    result = solve(cfg, check_with="judge", check_below=1.0)
    checks = [b for b in result.branches if b.reasoned_answer is not None]
    assert checks and all(b.code is None and "judge" in b.rewards for b in checks)
    assert result.answer == "42"
    assert (result.confidence_parts["status"], result.confidence_parts["check"]) == (
        "verified", "executed")
    assert (verdict_of(result).label, verdict_of(result).check) == ("verified", "executed")


def test_the_served_response_names_the_kind_of_check(store_path):
    cfg = config(store_path, yes_to_42)
    result = solve(cfg, check_with="judge")
    served = extension(result, ignored=[], content="")
    assert (served["verdict"], served["check"]) == ("verified", "judged")
    assert served["verdict_line"].startswith("verified (judged check)")


def test_the_judge_role_is_needed_only_when_asked(store_path):
    spec = get_strategy("checked")
    program, judged = spec.settings(), spec.settings(check_with="judge")
    assert "judge" not in spec.roles(SolveOptions(), program)
    assert spec.roles(SolveOptions(), judged)[-1] == "judge"
    assert program.model_dump()["check_with"] == "program"
    with pytest.raises(ponder.ConfigError, match="check_with"):
        solve(config(store_path, yes_to_42), check_with="oracle")
    # The pre-run role checks see the judge role only when it is asked for.
    broken = config(store_path, yes_to_42).model_copy(deep=True)
    broken.roles["judge"] = RoleConfig(model="scripted/chkj-nobody-registered", max_tokens=8)
    assert solve(broken).answer is not None
    with pytest.raises(ponder.ConfigError, match="judge"):
        solve(broken, check_with="judge")


def test_a_branch_the_judge_accepted_never_outweighs_an_executed_result():
    for prose_weight in (0.1, 0.25, 0.5, 0.9, 1.0):
        w = VoteSettings(prose_weight=prose_weight)
        assert w.weight("rejected") < w.weight("prose") <= w.weight("judged") <= w.weight("program")
        assert w.weight("judged") < w.weight("verified")
    judged = Branch(answer="42", rewards={"judge": 0.95})
    ran = Branch(answer="42", code="print(42)", code_answer="42", rewards={"judge": 0.95},
                 execution=ExecResult(status="ok", stdout="42\n"))
    assert evidence_of(judged) == "judged" and evidence_of(ran) == "program"
    assert evidence_of(Branch(answer="42", rewards={"judge": 0.5})) == "prose"


def test_an_undecided_judge_score_is_a_judged_check_that_confirms_nothing():
    branch = Branch(answer="42", text="42", rewards={"judge": 0.5})
    parts = assess([branch], "42", 1.0)
    assert (parts["status"], parts["check"], parts["judged"], parts["rejected"]) == (
        "unchecked", "judged", 0, 0)
    result = Result(run_id="r", problem_id="p", strategy="checked", answer="42",
                    confidence=parts["confidence"], confidence_parts=parts, branches=[branch])
    assert verdict_of(result).line().startswith("unverified (judged check)")
    rejected = assess([branch.model_copy(update={"rewards": {"judge": 0.1}})], "42", 1.0)
    assert (rejected["status"], rejected["check"]) == ("unverified", "judged")
    assert verdict_of(result.model_copy(update={"confidence_parts": rejected})).label == "refuted"


@pytest.mark.slow
def test_checked_with_the_judge_on_the_embedded_models(tmp_path):
    # The coder writes no program (as for a question no program can answer), so every
    # cross-check branch is the judge's to check: SmolLM2-135M judging Gemma-3-270M.
    cfg = load_config(None, store=tmp_path / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64),
        "standard": RoleConfig(model="local/smollm2-135m", max_tokens=64)})
    problem = Problem(question="Sam has 3 apples and buys 4 more apples. How many apples does "
                      "he have now?", reference="7")

    def no_program(state, *, deps):
        branch = state.get("branch") or Branch(id=state["branch_id"], index=state["index"])
        deps.trace(outputs={"code": None})
        return {"branch": branch}

    result = ponder.solve(problem, "checked", config=cfg, nodes={"code": no_program},
                          options=SolveOptions(samples=2, seed=0,
                                               settings={"check_with": "judge",
                                                         "check_samples": 2}))
    assert result.models["judge"] == "local/smollm2-135m"
    events = judge_events(cfg, result)
    asked = [e for e in events if "skipped" not in e.outputs]
    assert asked and all(e.usage.calls == 1 for e in asked)
    for e in asked:
        assert (e.outputs["score"] is None) == bool(e.outputs.get("no_score"))
    parts = result.confidence_parts
    winner = [b for b in result.branches if result.answer is not None and b.answer == result.answer]
    judged = any("judge" in b.rewards for b in winner)  # scored, whatever the score said
    assert parts.get("check") == ("judged" if judged else "none")
    assert verdict_of(result).check == parts.get("check")
    assert all(b.verdict != "verified" for b in result.branches)


def test_a_judge_without_logprobs_is_not_reported_as_confidence_weighting_lost(
        scripted_config) -> None:
    """Run notes ask each role's model what it loses; the judge is never asked about
    weighting branches by log-probabilities (it does not weight branches)."""
    from ponder.config import SolveOptions
    from ponder.graphs.runtime import make_deps
    from ponder.graphs.sampling import run_notes
    from ponder.scripted import register_script

    cfg = scripted_config(register_script("notes-judge", lambda m, i: "Answer: 1"))
    deps = make_deps(cfg, SolveOptions(), strategy="checked", run_id="r")
    asked: dict[str, bool] = {}
    deps.models.notes = lambda role, *, use_logprobs: asked.update({role: use_logprobs}) or []
    run_notes({"roles": ["reasoner", "judge"], "branches": []}, deps)
    assert asked == {"reasoner": True, "judge": False}
