"""accuracy_reward and format_reward: values, column names, completion shapes, hostile text."""

from __future__ import annotations

import asyncio
import logging
import pickle

import pytest

from ponder.errors import ConfigError
from ponder.rewards import (
    accuracy_reward,
    accuracy_reward_async,
    compute_score,
    format_reward,
    format_reward_async,
    with_options,
)


def chat(content: str, **extra: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": content, **extra}]


@pytest.mark.parametrize(("completion", "reference", "expected"), [
    ("<think>6*7=41? no, 42</think>The answer is 42.", "42", 1.0),
    ("The answer is 41.", "42", 0.0),
    ("So we get \\boxed{\\frac{1}{2}}", "0.5", 1.0),                  # LaTeX vs decimal
    ("Answer: $1,800.00", "1800", 1.0),                                # surface forms
    ("Final answer: 3/4", "\\boxed{\\dfrac{3}{4}}", 1.0),              # Open-R1 style solution
    ("Answer: 72", "She sold 48/2 = 24 clips ... #### 72", 1.0),      # GSM8K answer column
    ("Answer: 71", "She sold ... #### 72", 0.0),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", 1.0),                             # math-verify equivalence
    ("The answer is (B).", "B", 1.0),                                  # choice letter
    ("The capital is\nAnswer: paris", "Paris", 1.0),                   # text, any case
    ("", "42", 0.0),
    ("no number anywhere", "42", 0.0),
])
def test_accuracy_against_the_reference(completion: str, reference: str, expected: float) -> None:
    assert accuracy_reward([completion], answer=[reference]) == [expected]
    assert accuracy_reward([chat(completion)], solution=[reference]) == [expected]


def test_accuracy_is_none_without_a_reference() -> None:
    assert accuracy_reward(["Answer: 4", "Answer: 4", "Answer: 4"],
                           answer=[None, "", "4"]) == [None, None, 1.0]
    assert accuracy_reward(["Answer: 4"]) == [None]  # no reference column at all


def test_choice_rows_take_options_and_an_index_reference() -> None:
    choices = [["red", "green", "blue"]] * 3
    got = accuracy_reward(["The answer is C", "**B**", "I pick blue"], answer=[2, 2, "C"],
                          choices=choices)
    assert got == [1.0, 0.0, 1.0]


def test_columns_can_be_renamed_and_the_answer_column_wins_by_default() -> None:
    reward = with_options(accuracy_reward, reference="gold")
    assert reward(["Answer: 5"], gold=["5"], answer=["6"]) == [1.0]
    assert reward.__name__ == "accuracy_reward"
    assert accuracy_reward(["Answer: 5"], answer=["5"], solution=["6"]) == [1.0]
    with pytest.raises(ConfigError, match="unknown reward option"):
        with_options(accuracy_reward, refrence="x")


def test_a_column_of_the_wrong_length_is_the_callers_mistake() -> None:
    with pytest.raises(ConfigError, match="2 values for 1 completions"):
        accuracy_reward(["Answer: 1"], answer=["1", "2"])


@pytest.mark.parametrize(("completion", "expected"), [
    ("<think>\n6*7\n</think>\nThe answer is 42.", 1.0),
    ("<think>6*7</think>\n\\boxed{42}", 1.0),
    ("<think>6*7</think><answer>42</answer>", 1.0),
    ("6*7 is big</think>\nAnswer: 42", 1.0),          # the template opened <think> in the prompt
    ("The answer is 42.", 0.0),                        # no reasoning
    ("<think>6*7</think>", 0.0),                       # no final answer
    ("<think>6*7</think> it is probably 42", 0.0),     # no answer line
    ("<think></think>Answer: 42", 0.0),                # empty reasoning
    ("<think>a</think>Answer: 4<think>b</think>", 0.0),  # two blocks
    ("Answer: 42 <think>late</think>", 0.0),           # reasoning after the answer
    ("<think>unclosed... Answer: 42", 0.0),
])
def test_format_wants_reasoning_then_an_answer_line(completion: str, expected: float) -> None:
    assert format_reward([completion]) == [expected]
    assert format_reward([chat(completion)]) == [expected]


def test_format_accepts_a_separate_reasoning_field_and_is_configurable() -> None:
    assert format_reward([chat("The answer is 42.", reasoning_content="6*7")]) == [1.0]
    assert format_reward([chat("The answer is 42.", reasoning_content="  ")]) == [0.0]
    loose = with_options(format_reward, require_think=False)
    assert loose(["The answer is 42.", "<think>x</think>Answer: 1", "just 42"]) == [1.0, 1.0, 0.0]
    tagged = with_options(format_reward, answer_line=r"<answer>.+</answer>\s*$")
    assert tagged(["<think>x</think><answer>4</answer>", "<think>x</think>Answer: 4"]) == [1.0, 0.0]


@pytest.mark.parametrize("hostile", [
    None, 42, 3.5, b"bytes", {"content": None}, [], [{}], [{"role": "assistant", "content": 7}],
    [{"role": "assistant", "content": [{"type": "text", "text": "Answer: 4"}, {"x": 1}, None]}],
    "\x00\x1b[31m" * 1000, "\\boxed{" * 5000, "9" * 100_000, "<think>" * 10_000,
    "Answer: " + "(" * 3000, "\\boxed{10^{10^{10^{10}}}}", "Answer: 99999!!!!",
    "\ud800 lone surrogate Answer: 4",
    # long inputs that make a backtracking pattern quadratic (minutes) if one creeps back in
    "<think>x</think>" + "<answer>aaaaaaaa" * 12_000, "<think>x</think>answer" + " " * 150_000 + "x",
    "<think>x</think>" + "\n" * 150_000 + "x", "<think>x</think>" + " \t" * 75_000 + "#",
    "answer is " * 20_000, "1," * 100_000, "<think>" * 10_000 + "Answer: 4",
])
def test_hostile_completions_never_raise(hostile: object) -> None:
    acc = accuracy_reward([hostile], answer=["4"])
    fmt = format_reward([hostile])
    assert acc[0] in (0.0, 1.0) and fmt[0] in (0.0, 1.0)
    assert compute_score("x", hostile, "4") in (0.0, 1.0)


def test_the_answer_is_read_from_the_end_of_the_final_part() -> None:
    long = "<think>" + "so many thoughts " * 5000 + "</think>" + "blah " * 700 + "The answer is 4."
    assert accuracy_reward([long], answer=["4"]) == [1.0]
    early = "The answer is 4.\n" + "More words afterwards. " * 300
    assert accuracy_reward([early], answer=["4"]) == [0.0]  # outside the 4,000-character window
    assert with_options(accuracy_reward, answer_window=10_000)([early], answer=["4"]) == [1.0]


def test_text_parts_content_is_read() -> None:
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "Answer: "},
                                               {"type": "text", "text": "4"}]}]
    assert accuracy_reward([parts], answer=["4"]) == [1.0]


def test_async_twins_give_the_same_values() -> None:
    completions = ["<think>x</think>Answer: 4", "Answer: 5"]
    got = asyncio.run(accuracy_reward_async(completions, answer=["4", "4"]))
    assert got == accuracy_reward(completions, answer=["4", "4"]) == [1.0, 0.0]
    assert asyncio.run(format_reward_async(completions)) == [1.0, 0.0]


def test_rewards_pickle_with_their_options() -> None:
    renamed = with_options(accuracy_reward, reference="gold", default_kind="math")
    for reward in (accuracy_reward, format_reward, renamed, accuracy_reward_async):
        clone = pickle.loads(pickle.dumps(reward))
        assert getattr(clone, "__name__", None) == getattr(reward, "__name__", None)
    clone = pickle.loads(pickle.dumps(renamed))
    assert clone(["Answer: 2"], gold=["2"]) == [1.0]
    assert clone.keywords["reward_options"].default_kind == "math"


def test_an_unexpected_failure_is_logged_and_scored_zero(monkeypatch, caplog) -> None:
    import ponder.rewards.answer as answer

    def broken(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(answer, "extract_answer", broken)
    with caplog.at_level(logging.WARNING, logger="ponder.rewards"):
        assert accuracy_reward(["Answer: 4"], answer=["4"]) == [0.0]
    assert "RecursionError" in caplog.text


def test_verl_compute_score_grades_one_response() -> None:
    assert compute_score("openai/gsm8k", "<think>..</think>#### 72", "72") == 1.0
    assert compute_score("openai/gsm8k", "Answer: 71", "72") == 0.0
    assert compute_score("mmlu", "The answer is B", "B", {"choices": ["x", "y"]}) == 1.0
    assert compute_score("math", "\\boxed{1/2}", '{"answer": "0.5"}') == 1.0
    assert compute_score("none", "Answer: 3", None) == 0.0  # verl needs a number


def test_the_linear_think_stripper_reads_text_as_ponder_answers_does() -> None:
    import random

    from ponder.answers import strip_think
    from ponder.rewards.inputs import without_think

    rng = random.Random(25)
    parts = ["<think>", "</think>", "<THINK>", "</Think>", "a", " b ", "Answer: 4", "\n"]
    for _ in range(5000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 12)))
        assert without_think(text) == strip_think(text), repr(text)
