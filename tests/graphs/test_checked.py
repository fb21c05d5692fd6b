"""``checked``: programs first, a reasoning cross-check only where the programs leave doubt."""

from __future__ import annotations

import pytest

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.graphs.api import build_graph
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Problem
from ponder.verdict import verdict_of

QUESTION = "What is 6 * 7?"


def programs(by_index, reasoned: str = "42"):
    """A script: program requests get ``by_index(i)`` for sample ``i``; prose says ``reasoned``."""

    def script(messages, index):
        prompt = messages[-1]["content"].lower()
        if "python" in prompt or "program" in prompt:
            return f"```python\n{by_index(index)}\n```"
        return f"Let me think. The answer is {reasoned}."

    return script


def nodes_of(cfg, result) -> list[str]:
    return [e.node for e in Store(cfg.store).events(result.run_id)]


def test_agreeing_programs_need_no_reasoning(scripted_config):
    cfg = scripted_config(register_script("chk-agree", programs(lambda i: "print(6 * 7)")))
    checked = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0)
    pot = ponder.solve(QUESTION, strategy="pot", samples=4, config=cfg, seed=0)
    assert checked.answer == pot.answer == "42"
    assert "reason" not in nodes_of(cfg, checked) and "cross_check" not in nodes_of(cfg, checked)
    assert all(not b.text and b.reasoned_answer is None for b in checked.branches)
    assert checked.usage.total_tokens == pot.usage.total_tokens
    # 2:0, then 3:0 with one sample left can no longer be overtaken: stopped, nothing to check.
    assert (checked.samples_used, checked.max_samples, checked.stopped) == (3, 4, "decided")
    assert not checked.escalated


def test_split_programs_are_settled_by_a_verified_branch(scripted_config):
    # Programs 41, 41, 42, crash: 41 leads 2:1. cross_check=verified: the cross-check
    # (sample 4) reasons 42 and its program prints 42: verified, weight 2, and 42 wins over
    # the programs' majority.
    def program(i):
        return {0: "print(41)", 1: "print(41)", 2: "print(42)", 3: "print(undefined)"}.get(i, "print(42)")

    cfg = scripted_config(register_script("chk-split", programs(program)))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          check_samples=1, cross_check="verified")
    assert result.answer == "42"
    checks = [b for b in result.branches if b.reasoned_answer is not None]
    assert [(b.index, b.verdict, b.answer) for b in checks] == [(4, "verified", "42")]
    # Both stages vote: the three program answers and the verified branch.
    assert result.votes["42"].count == 2 and result.votes["42"].verified == 1
    assert result.votes["41"].count == 2
    assert result.confidence_parts["status"] == "verified"
    assert (result.samples_used, result.max_samples, result.stopped) == (5, 5, "max_samples")
    # The cross-check is a stage on the same role: recorded, and no escalation.
    [stage] = result.stages
    assert (stage.name, stage.first_branch, stage.switched_role) == ("cross_check", 4, False)
    assert not result.escalated
    events = Store(cfg.store).events(result.run_id)
    check = next(e for e in events if e.node == "cross_check")
    assert check.outputs["samples"] == 1
    why = check.outputs["why"]
    assert why.startswith("only 2 program(s) agree on the winner, fewer than 3") and "2 of 3 branches agree" in why
    assert [e.node for e in events].count("reason") == 1


def test_failing_programs_are_cross_checked(scripted_config):
    cfg = scripted_config(register_script(
        "chk-fail", programs(lambda i: "print(undefined)" if i < 4 else "print(6 * 7)")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0)
    assert result.answer == "42" and result.confidence_parts["status"] == "verified"
    assert all(b.verdict == "no_answer" for b in result.branches if b.index < 4)
    assert [b.verdict for b in result.branches if b.index >= 4] == ["verified"]
    # samples=4 programs, then samples // 4 = 1 cross-check.
    assert (result.samples_used, result.max_samples) == (5, 5)
    assert "no program gave an answer" in next(
        e for e in Store(cfg.store).events(result.run_id) if e.node == "cross_check").outputs["why"]


def test_a_refuted_cross_check_leaves_the_answer_unverified(scripted_config):
    # Programs 8, crash, 8: the vote stops (2:0 with one sample left can no longer be overtaken);
    # two agreeing programs are fewer than min_agree, so it is cross-checked. The cross-check
    # reasons 9 while its program prints 8 (the "Lucy" case): refuted. The answer stands on the
    # programs and is reported unverified, its confidence lowered by the refuted pair.
    def program(i):
        return "print(undefined)" if i == 1 else "print(8)"

    cfg = scripted_config(register_script("chk-refute", programs(program, reasoned="9")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          check_samples=1, prose_weight=0.5, cross_check="verified")
    assert result.answer == "8"
    assert [(b.index, b.verdict) for b in result.branches if b.reasoned_answer] == [(3, "refuted")]
    # min(share 1, stability 15/16) x trust (1 + 1 + 0.5) / 3
    assert result.confidence_parts["status"] == "unverified"
    assert result.confidence == pytest.approx(15 / 16 * 2.5 / 3, abs=1e-4)
    assert verdict_of(result).label == "refuted"
    assert (result.samples_used, result.max_samples, result.stopped) == (4, 4, "max_samples")
    # The default reasoning check: its 9 votes for itself (0.5 against the programs' 2) and
    # refutes nothing; the programs' 8 stands, checked by no reasoning: unverified.
    default = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                           check_samples=1, prose_weight=0.5)
    assert default.answer == "8" and default.votes["9"].count == 1
    assert default.confidence_parts["status"] == "unchecked"
    assert (verdict_of(default).label, verdict_of(default).check) == ("unverified", "executed")


def test_two_agreeing_programs_are_cross_checked_however_early_the_vote_stopped(scripted_config):
    # 42, crash, 42: the vote stops after 3 samples (2:0 with one left cannot be overtaken), a
    # crash says nothing against the answer, but two programs are fewer than min_agree (3).
    cfg = scripted_config(register_script(
        "chk-crash", programs(lambda i: "print(undefined)" if i == 1 else "print(42)")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0)
    assert result.answer == "42" and result.confidence_parts["status"] == "verified"
    assert "cross_check" in nodes_of(cfg, result) and result.samples_used == 4
    # min_agree=1: the old rule, where a stop on two agreeing programs was taken as confident.
    old = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0, min_agree=1)
    assert old.answer == "42" and old.confidence >= 0.8
    assert "cross_check" not in nodes_of(cfg, old) and old.samples_used == 3


def test_an_adaptive_stop_on_a_2_0_start_is_cross_checked(unanimous_config):
    # Budget 5: a 2:0 start gives P(leader holds) = 0.95, so the programs' vote stops after 2.
    result = ponder.solve(QUESTION, strategy="checked", samples=5, config=unanimous_config, seed=0)
    events = Store(unanimous_config.store).events(result.run_id)
    vote = next(e for e in events if e.node == "vote")
    assert vote.outputs["stop_check"]["reason"] == "adaptive" and vote.inputs["branches"] == 2
    check = next(e for e in events if e.node == "cross_check")
    assert check.outputs["why"].startswith("only 2 program(s) agree")
    assert result.answer == "42" and result.confidence_parts["status"] == "verified"
    assert (result.samples_used, result.max_samples) == (3, 3)


def test_a_reasoning_cross_check_settles_a_split_without_a_program(scripted_config):
    # Programs 41, 41, 42, 42: a 2:2 split. cross_check=reasoning: the cross-check (sample 4)
    # reasons 42 and writes no program; its prose (0.25) breaks the tie for 42, which the
    # programs' results back, at fewer tokens than a verified cross-check.
    def program(i):
        return {0: "print(41)", 1: "print(41)", 2: "print(42)", 3: "print(42)"}.get(i, "print(41)")

    cfg = scripted_config(register_script("chk-reasoning", programs(program)))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          check_samples=1, cross_check="reasoning")
    assert result.answer == "42"
    [check] = [b for b in result.branches if b.reasoned_answer is not None]
    assert (check.index, check.code, check.execution, check.verdict) == (4, None, None, "unverified")
    assert result.votes["42"].count == 3 and result.votes["41"].count == 2
    # Weights are the table's (1, 1 + 0.25 of prose) times each branch's token confidence.
    assert result.votes["42"].weight > result.votes["41"].weight
    # The reasoning agrees with executed programs' result: verified, by another branch.
    assert result.confidence_parts["status"] == "verified"
    assert (verdict_of(result).label, verdict_of(result).check) == ("verified", "executed")
    events = Store(cfg.store).events(result.run_id)
    assert next(e for e in events if e.node == "cross_check").outputs["cross_check"] == "reasoning"
    # The cross-check's code step ran and said why it wrote nothing; no program ran for it.
    assert [e.outputs for e in events if e.node == "code" and e.outputs.get("skipped")] == [
        {"skipped": "cross_check=reasoning"}]
    assert sum(e.node == "execute" and "status" in (e.outputs or {}) for e in events) == 4
    # The verified cross-check writes sample 4's program (41 here: it outvotes the prose).
    verified = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                            check_samples=1, cross_check="verified")
    assert verified.answer == "41" and verified.votes["41"].count == 3
    assert verified.usage.total_tokens > result.usage.total_tokens


def test_a_reasoning_cross_check_writes_a_program_where_none_answered_or_for_code():
    from ponder.graphs.strategies.checked import CheckedSettings, reasoning_only, writes_program

    reasoning, verified = CheckedSettings(), CheckedSettings(cross_check="verified")
    math, code = Problem(question="6 * 7?"), Problem(question="def f(): ...", kind="code")
    assert reasoning.cross_check == "reasoning"
    assert writes_program({"problem": math, "answer": "42"}, reasoning) is False
    # nothing for reasoning to check
    assert writes_program({"problem": math, "answer": None}, reasoning) is True
    assert writes_program({"problem": math, "answer": "42"}, verified) is True
    assert writes_program({"problem": code, "answer": "pass"}, reasoning) is True
    assert reasoning_only({"problem": math, "stage_args": {"program": False}}) is True
    assert reasoning_only({"problem": code, "stage_args": {"program": True}}) is False
    assert reasoning_only({"problem": math}) is False  # no stage said so: write the program


def test_a_cross_check_whose_program_crashed_counts_as_unchecked_prose(scripted_config):
    # One program says 20, three crash; the cross-check reasons 9 and its program crashes too:
    # its prose (0.5) does not outweigh the executed program (1).
    cfg = scripted_config(register_script("chk-prose", programs(
        lambda i: "print(20)" if i == 0 else "print(", reasoned="9")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          prose_weight=0.5)
    assert result.answer == "20" and result.votes["9"].count == 1
    assert result.votes["20"].weight > result.votes["9"].weight
    assert (result.confidence_parts["status"], verdict_of(result).check) == ("unchecked", "executed")


def test_a_lone_program_is_cross_checked_unless_settings_let_it_stand(scripted_config):
    # One program answers, three crash: one program is fewer than min_agree.
    cfg = scripted_config(register_script(
        "chk-lone", programs(lambda i: "print(42)" if i in (0, 4, 5) else "print(undefined)")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0)
    assert "cross_check" in nodes_of(cfg, result) and result.confidence_parts["status"] == "verified"
    # min_agree=1: confidence 0.75, above the default 0.7, below 0.8.
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0, min_agree=1)
    assert "cross_check" not in nodes_of(cfg, result) and result.confidence == 0.75
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          check_below=0.8, check_samples=2, min_agree=1, cross_check="verified")
    assert "cross_check" in nodes_of(cfg, result)
    assert result.answer == "42" and result.votes["42"].count == 3 and result.votes["42"].verified == 2


def test_a_spent_budget_skips_the_cross_check(scripted_config):
    cfg = scripted_config(register_script("chk-budget", programs(lambda i: f"print({40 + i})")))
    result = ponder.solve(QUESTION, strategy="checked", samples=4, config=cfg, seed=0,
                          budget_tokens=30)
    assert result.stopped == "budget_tokens" and result.samples_used < 4
    assert all(b.reasoned_answer is None for b in result.branches)
    assert "cross_check" not in nodes_of(cfg, result)


def test_undecided_cross_check_samples_its_whole_stage(scripted_config):
    # Programs all differ and so does every cross-check's program: 8 programs, then 2 checks.
    cfg = scripted_config(register_script(
        "chk-noisy", programs(lambda i: f"print({40 + i})", reasoned="0")))
    result = ponder.solve(QUESTION, strategy="checked", samples=8, config=cfg, seed=0)
    assert (result.samples_used, result.max_samples, result.stopped) == (10, 10, "max_samples")
    assert sorted(b.index for b in result.branches) == list(range(10))
    assert sum(b.reasoned_answer is not None for b in result.branches) == 2


def test_graph_has_a_branch_graph_per_stage(unanimous_config):
    mermaid = build_graph("checked", unanimous_config).get_graph(xray=True).draw_mermaid()
    for edge in ["branch\\3acode --> branch\\3aexecute", "cross_check --> dispatch",
                 "cross_check_branch\\3areason --> cross_check_branch\\3acode",
                 "cross_check_branch\\3aexecute --> cross_check_branch\\3ajudge",
                 "cross_check_branch\\3ajudge --> cross_check_branch\\3averify"]:
        assert edge in mermaid, edge
    assert "branch\\3areason" not in mermaid.replace("cross_check_branch", "")


def test_settings_are_checked(unanimous_config):
    with pytest.raises(ponder.ConfigError, match="check_below"):
        ponder.solve(QUESTION, strategy="checked", config=unanimous_config, check_below=2)
    with pytest.raises(ponder.ConfigError, match="cross_check"):
        ponder.solve(QUESTION, strategy="checked", config=unanimous_config, cross_check="prose")


@pytest.fixture
def unanimous_config(scripted_config):
    return scripted_config(register_script("chk-unanimous", programs(lambda i: "print(42)")))


@pytest.mark.slow
def test_checked_through_the_embedded_model(tmp_path):
    cfg = load_config(None, store=tmp_path / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64),
        "standard": RoleConfig(model="local/smollm2-135m", max_tokens=64)})
    problem = Problem(question="Sam has 3 apples and buys 4 more apples. How many apples does "
                      "he have now?", reference="7")
    result = ponder.solve(problem, "checked", config=cfg, options=SolveOptions(samples=4, seed=0))
    assert result.answer == "7" and result.correct and result.seed == 0
    assert all(b.model == "local/gemma-3-270m" for b in result.branches)
    assert any(b.code_answer == "7" for b in result.branches)
    assert result.samples_used <= result.max_samples <= 6


@pytest.mark.slow
def test_a_reasoning_cross_check_through_the_embedded_model(tmp_path):
    # min_agree above the budget: the programs always leave doubt, so the cross-check runs.
    cfg = load_config(None, store=tmp_path / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64)})
    problem = Problem(question="Sam has 3 apples and buys 4 more apples. How many apples does "
                      "he have now?", reference="7")
    result = ponder.solve(problem, "checked", config=cfg, options=SolveOptions(samples=3, seed=0),
                          cross_check="reasoning", min_agree=4, check_samples=1)
    [check] = [b for b in result.branches if b.index == result.samples_used - 1]
    assert check.text and check.code is None and check.execution is None
    assert all(b.code for b in result.branches if b is not check)
    assert result.answer is not None and [s.name for s in result.stages] == ["cross_check"]
