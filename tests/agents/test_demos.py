"""Few-shot demos: nearest-question selection, and bootstrapping them from a stored run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.agents import prompts
from ponder.agents.demos import (
    demos_from_run,
    for_role,
    read_demos,
    select,
    similarity,
)
from ponder.config import Demo, RoleConfig, SolveOptions
from ponder.errors import ConfigError
from ponder.store import Store
from ponder.types import Branch, ExecResult, Problem, Result

BAGS = Demo(id="d-bags", question="Tom packs 4 bags with 5 apples each and eats 3 apples. How "
            "many apples are left?", answer="17", program="a = 4 * 5\nanswer(a - 3)")
STAMPS = Demo(id="d-stamps", question="Ann has 12 stamps and buys 7 more stamps. How many "
              "stamps does she have?", answer="19", program="answer(12 + 7)")
TRAIN = Demo(id="d-train", question="A train travels 60 km per hour for 3 hours. How far does "
             "it go?", answer="180", reasoning="60 * 3 = 180 km.")
PIE = Demo(id="d-pie", question="A pie has 8 slices shared by 2 friends. How many slices "
           "does each get?", answer="4", program="answer(8 // 2)")


def problem(question: str, pid: str = "p-new") -> Problem:
    return Problem(id=pid, question=question, reference=None)


QUESTION = problem("Lena packs 6 bags with 3 apples each and eats 2 apples. How many apples "
                   "are left?")


# selection (pure) ------------------------------------------------------------------------------
def test_similarity_is_jaccard_over_content_words_ignoring_numbers() -> None:
    assert similarity("Sam has 3 apples.", "Sam has 300 apples!") == 1.0
    assert similarity("Sam has apples", "A train goes far") == 0.0
    assert 0 < similarity(QUESTION.question, BAGS.question) < 1


def test_the_nearest_demos_come_last_and_the_farthest_are_dropped() -> None:
    chosen = select(QUESTION, [TRAIN, PIE, BAGS, STAMPS], k=2)
    assert chosen[-1] is BAGS  # nearest, right before the question
    assert len(chosen) == 2 and TRAIN not in chosen


def test_selection_is_capped_at_k_default_four() -> None:
    pool = [Demo(question=f"Question number {w} about apples", answer="1")
            for w in ("one", "two", "three", "four", "five", "six")]
    assert len(select(QUESTION, pool)) == 4
    assert len(select(QUESTION, pool, k=1)) == 1
    assert select(QUESTION, pool, k=0) == []


def test_the_problem_itself_is_never_a_demo_by_id_or_by_question() -> None:
    same_id = BAGS.model_copy(update={"id": QUESTION.id})
    same_text = Demo(question="  lena packs 6 bags with 3 apples each and eats 2 apples.  How "
                     "many apples are left? ", answer="16", program="answer(16)")
    chosen = select(QUESTION, [same_id, same_text, STAMPS])
    assert chosen == [STAMPS]


def test_repeated_questions_are_shown_once() -> None:
    twin = BAGS.model_copy(update={"id": "d-bags-2", "program": "answer(17)"})
    chosen = select(QUESTION, [BAGS, twin, STAMPS])
    assert [d.id for d in chosen] == ["d-stamps", "d-bags"]


def test_a_prompt_takes_only_demos_that_show_what_it_needs() -> None:
    assert select(QUESTION, [TRAIN, BAGS], need="program") == [BAGS]
    assert select(QUESTION, [TRAIN, BAGS], need="reasoning") == [TRAIN]


# prompts ---------------------------------------------------------------------------------------
def test_completion_prompts_show_the_given_demos_instead_of_the_built_in_ones() -> None:
    text = prompts.code(QUESTION, "completion", demos=[STAMPS, BAGS])[0]["content"]
    assert "a = 4 * 5\nanswer(a - 3)" in text and "answer(12 + 7)" in text
    assert "slices = 12 // 4" not in text  # a built-in exemplar
    assert text.endswith(f"Question: {QUESTION.question}\n```python\n")
    assert text.index("Ann has 12 stamps") < text.index("Tom packs")  # nearest last
    printed = prompts.code(QUESTION, "completion", sink="print",
                           demos=[BAGS])[0]["content"]
    assert "print(a - 3)" in printed


def test_a_stored_program_that_printed_is_shown_answering() -> None:
    printer = BAGS.model_copy(update={"program": "a = 4 * 5\nprint(a - 3)"})
    text = prompts.code(QUESTION, "completion", demos=[printer])[0]["content"]
    assert "a = 4 * 5\nanswer(a - 3)" in text


def test_chat_prompts_show_demos_as_earlier_turns() -> None:
    messages = prompts.code(QUESTION, "chat", demos=[BAGS])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert BAGS.question in messages[0]["content"]
    assert messages[1]["content"] == "```python\na = 4 * 5\nanswer(a - 3)\n```"
    reasoned = prompts.reason(QUESTION, "chat", demos=[TRAIN])
    assert [m["role"] for m in reasoned] == ["system", "user", "assistant", "user"]
    assert reasoned[2]["content"] == "60 * 3 = 180 km.\nAnswer: 180"
    direct = prompts.direct(QUESTION, "chat", demos=[PIE])
    assert direct[1]["content"] == "Answer: 4"


def test_without_usable_demos_completion_falls_back_to_built_ins_and_chat_to_none() -> None:
    text = prompts.reason(QUESTION, "completion", demos=[BAGS])[0]["content"]  # no reasoning
    assert "Sam starts with 3 apples" in text
    assert prompts.reason(QUESTION, "chat", demos=[BAGS])[1:] == [
        {"role": "user", "content": QUESTION.question}]
    assert len(prompts.code(QUESTION, "chat")) == 1  # chat has no built-in demos


# file and role configuration ------------------------------------------------------------------
def test_demos_read_from_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "demos.jsonl"
    path.write_text(json.dumps({"question": "q one", "answer": 3, "code": "answer(3)"}) + "\n\n"
                    + json.dumps({"question": "q two", "answer": "5", "reasoning": "2+3"}) + "\n")
    assert read_demos(path) == [Demo(question="q one", answer="3", program="answer(3)"),
                                Demo(question="q two", answer="5", reasoning="2+3")]
    path.write_text('{"question": "q"}\n{"answer": 1}\n')
    with pytest.raises(ConfigError, match="line 2: not a demo"):
        read_demos(path)


def test_the_solve_demos_win_over_the_role_file_which_wins_over_built_ins(tmp_path: Path) -> None:
    path = tmp_path / "demos.jsonl"
    path.write_text(json.dumps(PIE.model_dump()) + "\n")
    role = RoleConfig(model="scripted/x", demos=path)
    assert for_role(SolveOptions(), RoleConfig(model="scripted/x")) is None
    assert for_role(SolveOptions(), role) == [PIE]
    assert for_role(SolveOptions(demos=[BAGS]), role) == [BAGS]
    missing = RoleConfig(model="scripted/x", demos=tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="roles.<role>.demos"):
        for_role(SolveOptions(), missing)


# from a stored run (real SQLite store) ---------------------------------------------------------
def ran(value: str) -> ExecResult:
    return ExecResult(status="ok", stdout=value)


def branch(index: int, answer: str | None, verdict: str, *, correct: bool, code: str | None = None,
           text: str = "", reasoned: str | None = None) -> Branch:
    return Branch(index=index, answer=answer, verdict=verdict, code=code, text=text,
                  reasoned_answer=reasoned, code_answer=answer if code else None,
                  execution=ran(answer or "") if code else None,
                  rewards={"accuracy": 1.0 if correct else 0.0})


def stored_run(tmp_path: Path, rows: list[tuple[Problem, list[Branch]]], name: str = "one-step") -> Store:
    db = Store(tmp_path / "s.db")
    run = db.create_run(kind="batch", name=name, strategies=["verified"])
    for position, (p, branches) in enumerate(rows):
        db.add_problem(run.id, p, position)
        db.save_result(Result(run_id=run.id, problem_id=p.id, strategy="verified",
                              answer=branches[0].answer if branches else None,
                              reference=p.reference, correct=True, branches=branches))
    return db


def test_a_run_gives_one_demo_per_verified_correct_question(tmp_path: Path) -> None:
    add = Problem(id="q-add", question="Ann has 12 stamps and buys 7 more stamps. How many?",
                  reference="19")
    mul = Problem(id="q-mul", question="Tom packs 4 bags with 5 apples each. How many apples?",
                  reference="20")
    wrong = Problem(id="q-wrong", question="A pie has 8 slices for 2 friends. How many each?",
                    reference="4")
    pot = Problem(id="q-pot", question="Mia had 30 cards and lost 9. How many are left?",
                  reference="21")
    db = stored_run(tmp_path, [
        (add, [branch(0, "19", "refuted", correct=True, code="answer(19)", reasoned="18"),
               branch(1, "19", "verified", correct=True, code="answer(12 + 7)",
                      text="12 + 7 = 19 stamps.\nAnswer: 19", reasoned="19"),
               branch(2, "19", "verified", correct=True, code="answer(19)", reasoned="19")]),
        (mul, [branch(0, "20", "verified", correct=True, code="answer(4 * 5)",
                      text="4 * 5 = 20. The answer is 20.", reasoned="20")]),
        (wrong, [branch(0, "5", "verified", correct=False, code="answer(5)", reasoned="5")]),
        (pot, [branch(0, "21", "unverified", correct=True, code="answer(30 - 9)")]),
    ])
    demos = demos_from_run(db, "one-step")
    assert [(d.id, d.answer, d.program, d.reasoning) for d in demos] == [
        ("q-add", "19", "answer(12 + 7)", "12 + 7 = 19 stamps."),
        ("q-mul", "20", "answer(4 * 5)", "4 * 5 = 20."),
        ("q-pot", "21", "answer(30 - 9)", None),
    ]
    # The run's own problems never see themselves, in a batch over the same questions.
    assert all(d.id != "q-add" for d in select(add, demos))
    assert demos_from_run(tmp_path / "s.db", "one-step") == demos  # by path: opened here


def test_a_run_without_verified_correct_traces_says_what_to_do(tmp_path: Path) -> None:
    p = Problem(id="q1", question="What is 2 + 2?", reference="4")
    db = stored_run(tmp_path, [(p, [branch(0, "5", "verified", correct=False, code="answer(5)",
                                           reasoned="5")])], name="all-wrong")
    with pytest.raises(ConfigError, match=r"no verified-correct traces.*1 results, 1 with a "
                                          r"reference.*dataset with answers"):
        demos_from_run(db, "all-wrong")


def test_a_demos_file_past_its_cap_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    from ponder.agents import demos

    monkeypatch.setattr(demos, "MAX_DEMOS_BYTES", 200)
    path = tmp_path / "demos.jsonl"
    path.write_text(json.dumps({"question": "What is 1 + 1?", "answer": "2"}) + "\n")
    assert len(read_demos(path)) == 1
    path.write_text((json.dumps({"question": "What is 1 + 1?", "answer": "2"}) + "\n") * 10)
    with pytest.raises(ConfigError, match=r"demos file .*demos.jsonl is larger than 200 bytes"):
        read_demos(path)
    with pytest.raises(ConfigError, match="demos file /dev/zero is larger than 200 bytes"):
        read_demos("/dev/zero")
