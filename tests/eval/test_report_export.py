"""Reports and exports read back from a store filled with known results."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

import pytest

from ponder.eval.export import export_run
from ponder.eval.report import build_report, pass_at_k, render
from ponder.store import Store
from ponder.types import Branch, Problem, Result, Usage


def branch(i: int, answer: str | None, *, correct: bool, verdict: str = "verified",
           reasoning: str | None = None) -> Branch:
    return Branch(index=i, model="scripted/x", text=f"thinking {i}. Answer: {answer}",
                  reasoning=reasoning, answer=answer, verdict=verdict,
                  rewards={"accuracy": float(correct), "format": float(answer is not None)})


def fill(store: Store, *, kind: str = "math", samples: int = 2) -> str:
    """A two-strategy run over 4 problems with hand-picked outcomes."""
    run = store.create_run(kind="batch", name="r", strategies=["cot", "verified"],
                           config={"options": {"samples": samples}, "dataset": {"kind": kind}},
                           meta={"planned_problems": 4})
    for pos in range(4):
        problem = Problem(id=f"p{pos}", question=f"What is {pos} + 1?", reference=str(pos + 1),
                          kind=kind)
        store.add_problem(run.id, problem, pos)
        for s_i, strategy in enumerate(["cot", "verified"]):
            right = (pos + s_i) % 2 == 0
            answer = None if (strategy == "cot" and pos == 3) else str(pos + 1 if right else 0)
            branches = [branch(0, answer, correct=right, verdict="verified" if s_i else "unverified",
                               reasoning="deep thought" if pos == 0 else None),
                        branch(1, str(pos + 1), correct=True, verdict="refuted")]
            store.save_result(Result(
                run_id=run.id, problem_id=problem.id, strategy=strategy, answer=answer,
                reference=problem.reference, correct=answer is not None and right,
                branches=branches, samples_used=1 + s_i, wall_s=0.25 * (pos + 1) + s_i,
                usage=Usage(prompt_tokens=10 * (pos + 1), completion_tokens=5 * s_i + pos,
                            cost_usd=0.001 * (pos + 1), latency_s=0.5 * (pos + 1) + s_i)))
    return run.id


def test_pass_at_k_matches_the_unbiased_estimator() -> None:
    assert pass_at_k(5, 0, 1) == 0.0
    assert pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert pass_at_k(3, 2, 2) == 1.0  # n - c < k: some draw of k always contains a pass
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_report_figures_equal_what_the_rows_say(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = fill(store)
    report = build_report(store, "r")
    assert [s.strategy for s in report.strategies] == ["cot", "verified"]
    for s in report.strategies:
        rows = store.result_rows(run_id, strategy=s.strategy)
        tokens = [r["tokens"] for r in rows]
        latency = sorted(r["wall_s"] for r in rows)  # wall time, not summed model time
        assert s.problems == len(rows) == 4
        assert s.correct == sum(r["correct"] == 1 for r in rows)
        assert s.no_answer == sum(r["answer"] is None for r in rows)
        assert s.accuracy == pytest.approx(s.correct / 4)
        assert s.total_tokens == sum(tokens)
        assert s.mean_tokens == pytest.approx(statistics.mean(tokens))
        assert s.median_tokens == pytest.approx(statistics.median(tokens))
        assert s.latency_p50_s == pytest.approx(statistics.median(latency))
        assert s.latency_p95_s == pytest.approx(statistics.quantiles(latency, n=20, method="inclusive")[-1])
        assert s.cost_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
        assert s.samples_used_total == sum(r["samples_used"] for r in rows)
    cot = report.strategies[0]
    assert (cot.correct, cot.no_answer, cot.no_answer_rate) == (2, 1, 0.25)
    assert report.strategies[0].pass_at_k == {}  # math run: pass@k only for code


def test_code_runs_report_pass_at_k_from_branches(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store, kind="code", samples=2)
    verified = build_report(store, "r").strategies[1]
    # branch 0 passes on p1 and p3 only, branch 1 always: pass@1 = mean(c/2), pass@2 = 1
    assert verified.pass_at_k == {"pass@1": pytest.approx((1 + 2 + 1 + 2) / 8), "pass@2": 1.0}


def test_renderings_carry_the_same_numbers(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store)
    store.update_run(store.require_run("r").id, status="stopped", meta={"stopped": "budget_usd"})
    report = build_report(store, "r")
    data = json.loads(render(report, "json"))
    assert data["stopped"] == "budget_usd"
    for entry in data["strategies"]:
        assert {"strategy", "problems", "correct", "no_answer", "accuracy", "total_tokens",
                "cost_usd"} <= set(entry)
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [r["strategy"] for r in rows] == ["cot", "verified"]
    assert [int(r["correct"]) for r in rows] == [e["correct"] for e in data["strategies"]]
    md = render(report, "md")
    assert "stopped early: budget_usd" in md and "| cot | 4 | 50.0% (2/4)" in md
    assert "Accuracy against tokens" in md


def export(store: Store, fmt: str, **kw) -> str:
    out = io.StringIO()
    export_run(store, "r", fmt, out, **kw)
    return out.getvalue()


def test_sft_export_keeps_only_verified_correct_branches(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store)
    lines = [json.loads(line) for line in export(store, "sft").splitlines()]
    # verified strategy, branch 0, correct on p1 and p3 only (cot is never verified)
    assert [(r["problem_id"], r["strategy"]) for r in lines] == [("p1", "verified"), ("p3", "verified")]
    user, assistant = lines[0]["messages"]
    assert user == {"role": "user", "content": "What is 1 + 1?"}
    assert assistant["role"] == "assistant"
    assert assistant["content"] == "<think>\nthinking 0. Answer: 2\n</think>\n\n2"
    loose = [json.loads(line) for line in export(store, "sft", any_correct=True).splitlines()]
    assert len(loose) > len(lines)


def test_sft_uses_separated_reasoning_when_present(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store)
    lines = [json.loads(line) for line in export(store, "sft", any_correct=True).splitlines()]
    first = next(r for r in lines if r["problem_id"] == "p0")
    assert first["messages"][1]["content"].startswith("<think>\ndeep thought\n</think>\n\n")


def test_rewards_export_has_every_branch(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store)
    lines = [json.loads(line) for line in export(store, "rewards").splitlines()]
    assert len(lines) == 4 * 2 * 2
    assert all(set(r["rewards"]) == {"accuracy", "format"} for r in lines)
    assert {r["accuracy"] for r in lines} == {0.0, 1.0}
    assert lines[0]["prompt"] == "What is 0 + 1?"


def test_plain_exports_have_one_row_per_problem_and_strategy(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    fill(store)
    rows = [json.loads(line) for line in export(store, "jsonl").splitlines()]
    table = list(csv.DictReader(io.StringIO(export(store, "csv"))))
    assert len(rows) == len(table) == 8
    assert {(r["problem_id"], r["strategy"]) for r in rows} == {
        (f"p{i}", s) for i in range(4) for s in ("cot", "verified")}
    for r, t in zip(rows, table):
        assert {"problem_id", "strategy", "answer", "reference", "correct"} <= set(r)
        assert [t[k] for k in ("problem_id", "strategy", "reference")] == [
            r["problem_id"], r["strategy"], r["reference"]]
    run_id = store.require_run("r").id
    assert sum(r["correct"] for r in rows) == sum(s.correct for s in store.summary(run_id))
    only = [json.loads(line) for line in export(store, "jsonl", strategy="cot").splitlines()]
    assert {r["strategy"] for r in only} == {"cot"} and len(only) == 4


def test_sft_export_holds_no_forgeable_code_grade(tmp_path: Path, scripted_config) -> None:
    import shutil

    import ponder
    from ponder.scripted import register_script

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed")
    prompt = "def add(a, b):\n    \"\"\"Add.\"\"\"\n"
    honest = f"```python\n{prompt}    return a + b\n```"
    cheat = f"```python\n{prompt}    return a - b\nimport os\nos._exit(0)\n```"
    config = scripted_config(register_script("cheater", lambda messages, i: [cheat, honest][i % 2]))
    problem = Problem(id="add", question=prompt, kind="code", entry_point="add",
                      tests="def check(candidate):\n    assert candidate(2, 3) == 5\n")
    result = ponder.solve(problem, strategy="pot", samples=4, config=config, early_stop=False)
    verdicts = sorted((b.index % 2, b.verdict) for b in result.branches)
    assert verdicts == [(0, "refuted"), (0, "refuted"), (1, "verified"), (1, "verified")]
    store = Store(config.store)
    # a branch graded the old way (exit status 0 read as a pass) is stored alongside
    forged = Branch(index=9, text=cheat, code=cheat, answer="pass", verdict="verified",
                    rewards={"accuracy": 1.0, "format": 1.0})
    # (under another strategy name: the result of (run, problem, "pot") is already stored)
    assert store.save_result(result.model_copy(update={"strategy": "pot-graded-by-exit-status",
                                                       "branches": [*result.branches, forged]}))
    assert forged.id in {b.id for r in store.results(result.run_id) for b in r.branches}
    out = io.StringIO()
    export_run(store, result.run_id, "sft", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 4 and all("os._exit" not in r["messages"][1]["content"] for r in records)
    assert {r["branch_id"] for r in records} == {b.id for b in result.branches if b.index % 2}
    assert forged.id not in {r["branch_id"] for r in records}


def test_pass_at_k_averages_over_all_problems_and_says_what_it_counts(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run = store.create_run(kind="batch", name="k", strategies=["pot"],
                           config={"options": {"samples": 4}, "dataset": {"kind": "code"}})
    # (n, c): one problem stopped early after 2 passing samples, two drew all 4
    for pos, (n, c) in enumerate([(4, 1), (2, 2), (4, 0)]):
        problem = Problem(id=f"q{pos}", question="def f():\n", kind="code", tests="")
        store.add_problem(run.id, problem, pos)
        store.save_result(Result(run_id=run.id, problem_id=problem.id, strategy="pot",
                                 answer="pass", branches=[
                                     branch(i, "pass" if i < c else "fail", correct=i < c)
                                     for i in range(n)]))
    report = build_report(store, "k").strategies[0]
    # pass@1 = mean(1/4, 2/2, 0/4) over all three; pass@4 would only average the two problems
    # that did not stop early (the old, biased figure 0.5), so it is left out and said why
    assert report.pass_at_k == {"pass@1": pytest.approx((0.25 + 1.0 + 0.0) / 3)}
    assert "over all 3 problems, every sampled branch (2-4 per problem)" in report.pass_at_k_counts
    assert "pass@4 left out" in report.pass_at_k_counts
    assert "pass@4 left out" in render(build_report(store, "k"), "md")
