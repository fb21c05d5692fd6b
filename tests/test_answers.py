"""Answer extraction, normalisation and equivalence on tricky model outputs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ponder.answers import (equivalent, extract_answer, extract_code, is_correct, normalize,
                            program_answer, reference_from_gsm8k, strip_think, value_answer)
from ponder.errors import ConfigError, DatasetError

CHOICES = ["Paris", "London", "Berlin", "Madrid"]


@pytest.mark.parametrize("text, expected", [
    ("First 3 apples, then 5 more, so 8 in total.", "8"),
    (r"So \boxed{12}. Wait, no: \boxed{14}.", "14"),
    (r"The result is \boxed{\frac{\sqrt{2}}{2}} overall.", r"\frac{\sqrt{2}}{2}"),
    (r"$\boxed{\{1, 2\}}$", r"\{1, 2\}"),
    (r"The answer is 7, i.e. \boxed{9}", "9"),
    ("The answer is **42**.", "42"),
    ("**Answer:** 7", "7"),
    ("**Final Answer**: 1,000,000", "1000000"),
    ("Answer: $18", "18"),
    ("answer is \\$25.", "25"),
    ("She earns 3 dollars an hour.\nThe answer is 18 dollars.", "18"),
    ("The answer is 18 apples.", "18"),
    ("Final answer: 1,234", "1234"),
    ("It costs $1,234.50 in total.", "1234.50"),
    ("Answer: 3/4", "3/4"),
    (r"The answer is $\frac{3}{4}$.", r"\frac{3}{4}"),
    ("The answer is -5.", "-5"),
    ("It dropped to -5 degrees; then 10-5 is 5", "5"),
    ("x = -3", "-3"),
    ("The answer is 5 + 3 = 8", "8"),
    ("The answer is 18 because 3 * 6 = 18", "18"),
    ("The answer is not obvious. Step 1 gives 7, then 9", "9"),
    ("The answer is 50%", "50"),
    ("The answer is x^2+2x+1", "x^2+2x+1"),
    ("Answer:\n  56", "56"),
    ("Natalia sold 48 / 2 = 24 clips in May.\n#### 72", "72"),
    ("<think>Maybe 7? No, 9.</think>The answer is 12", "12"),
    ("<think>It is 7. The answer is 7.</think>\nSo we get 12 cookies.", "12"),
    ("leftover reasoning 99</think>Final answer: 3", "3"),
    ("There is no number here.", None),
    ("", None),
    ("<think>still thinking about 5 and", None),
])
def test_extract_math(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Answer: (B)", "B"),
    ("The answer is B", "B"),
    ("The answer is (c).", "C"),
    ("I am fairly sure **C** is right.", "C"),
    ("Let me think.\nD\n", "D"),
    ("The answer is London.", "B"),
    ("So the capital must be Berlin", "C"),
    (r"\boxed{\text{A}}", "A"),
    ("The answer is a city.", None),
    ("Hmm, no idea.", None),
    ("<think>Answer: A</think>Answer: D", "D"),
])
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_answer(text, "choice", CHOICES) == expected


def test_extract_choice_letters_limited_to_the_options() -> None:
    assert extract_answer("The answer is D", "choice", ["yes", "no"]) is None
    assert extract_answer("The answer is E", "choice") == "E"


@pytest.mark.parametrize("text, expected", [
    ("Some words first.\nParis is the capital\n\n", "Paris is the capital"),
    ("It is a big city.\nAnswer: Paris.", "Paris"),
    ("<think>only thoughts</think>", None),
])
def test_extract_text(text: str, expected: str | None) -> None:
    assert extract_answer(text, "text") == expected


def test_extract_handles_odd_text_but_reports_a_wrong_kind() -> None:
    assert extract_answer(None, "math") is None  # type: ignore[arg-type]
    assert extract_answer(r"\boxed{unclosed 5", "math") == "5"
    # a caller's mistake is an error that says what to do, not a silent "no answer"
    with pytest.raises(ConfigError, match="unknown problem kind 'nonsense'.*math, choice"):
        extract_answer("Answer: 4", "nonsense")  # type: ignore[arg-type]


def test_extract_lets_a_bug_surface(monkeypatch: pytest.MonkeyPatch) -> None:
    import ponder.answers as answers

    def broken(span: str) -> str:
        raise ZeroDivisionError("bug in a converter")

    monkeypatch.setattr(answers, "_math_from_span", broken)
    with pytest.raises(ZeroDivisionError, match="bug in a converter"):
        extract_answer("Answer: 4", "math")


@pytest.mark.parametrize("answer, expected", [
    ('"8"', "8"), ("'5'", "5"), ('"29"', "29"), ("\u201c7\u201d", "7"),
    ("28/4", "7"), ("28 / 4", "7"), ("(28/4)", "7"), ("6/8", "3/4"), ("1/3", "1/3"),
])
def test_quotes_and_unsimplified_fractions_do_not_split_votes(answer: str, expected: str) -> None:
    assert extract_answer(f"Answer: {answer}") == expected
    assert normalize(answer) == normalize(expected)
    assert equivalent(answer, expected)


def test_text_quotes_are_dropped_only_when_they_wrap_the_answer() -> None:
    assert normalize('"Paris"', "text") == normalize("Paris", "text")
    assert normalize('"a" and "b"', "text") == '"a" and "b"'


@pytest.mark.parametrize("value, expected", [
    (18, "18"), (18.0, "18"), (0.1 + 0.2, "0.3"), (2.5, "2.5"), ("8", "8"), ('"8"', "8"),
    ("Mia has 25 dollars.", "25"), ([1, 2], "[1, 2]"), (None, None), (True, "True"),
])
def test_value_answer(value: object, expected: str | None) -> None:
    assert value_answer(value) == expected


def test_strip_think() -> None:
    assert strip_think("<think>a</think>b<THINK>c</THINK>d") == "bd"
    assert strip_think("a</think>b") == "b"
    assert strip_think("a<think>b") == "a"


def test_extract_code() -> None:
    text = "First:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\nDone."
    assert extract_code(text) == "print(2)"
    assert extract_code("```\nx = 1\n```") == "x = 1"
    assert extract_code("```python\nprint(3)\n```\n```\nplain\n```") == "print(3)"
    assert extract_code("```python\nprint(4)") == "print(4)"  # generation stopped at the fence
    assert extract_code("```bash\nls\n```") is None
    assert extract_code("no code at all") is None
    assert extract_code("<think>```python\nprint(0)\n```</think>") is None


@pytest.mark.parametrize("stdout, expected", [
    ("18\n", "18"),
    ("working...\n18.0\n\n", "18"),
    ("0.30000000000000004", "0.3"),
    ("2.9999999999999996", "3"),
    ("0.75", "0.75"),
    ("Answer: 5", "5"),
    ("[1, 2]", "[1, 2]"),
    ("", None),
    ("\n  \n", None),
])
def test_program_answer(stdout: str, expected: str | None) -> None:
    assert program_answer(stdout) == expected


@pytest.mark.parametrize("answer, key", [
    ("18", "18"), ("18.0", "18"), ("$18", "18"), ("18.00", "18"), ("18 dollars", "18"),
    (r"18\text{ apples}", "18"), ("1,800", "1800"), ("3/4", "0.75"), ("0.75", "0.75"),
    (r"\frac{3}{4}", "0.75"), (r"\dfrac{3}{4}", "0.75"), (r"\frac34", "0.75"),
    (r"-\frac{3}{4}", "-0.75"), ("-0.75", "-0.75"), ("−5", "-5"), ("1/3", "1/3"),
    ("50%", "50"), (r"50\%", "50"), ("x = 5", "5"), ("x + 1", "x+1"),
])
def test_normalize_math(answer: str, key: str) -> None:
    assert normalize(answer) == key


def test_normalize_choice_and_text() -> None:
    assert normalize("(b)", "choice") == "B"
    assert normalize("**C.**", "choice") == "C"
    assert normalize("  Hello   World. ", "text") == "hello world"


@pytest.mark.parametrize("a, b", [
    ("18", "$18.00"), ("1,234", "1234"), ("3/4", "0.75"), (r"\frac{3}{4}", "0.75"),
    ("x^2+2x+1", "(x+1)^2"), (r"\sqrt{2}/2", r"1/\sqrt{2}"), (r"2\sqrt{2}", r"\sqrt{8}"),
    ("x+y", "y+x"), ("x = 2", "2"),
])
def test_equivalent(a: str, b: str) -> None:
    assert equivalent(a, b)
    assert equivalent(b, a)


@pytest.mark.parametrize("a, b", [
    ("18", "19"), ("-5", "5"), ("x^2+2x+1", "(x+2)^2"), (r"\pi", "3.14"), ("0.33", "1/3"),
    ("cat", "act"), ("", ""), ("1,2", "12"),
])
def test_not_equivalent(a: str, b: str) -> None:
    assert not equivalent(a, b)


def test_equivalent_by_kind() -> None:
    assert equivalent("b", "(B)", "choice")
    assert not equivalent("A", "B", "choice")
    assert equivalent("Paris ", "paris.", "text")
    assert not equivalent("x^2+2x+1", "(x+1)^2", "text")


def test_equivalent_refuses_inputs_that_would_hang_sympy() -> None:
    began = time.monotonic()
    assert not equivalent("10^{10^{10}}", "2")
    assert not equivalent("9^{9^{9}}", "3")
    assert time.monotonic() - began < 5


def test_equivalent_works_off_the_main_thread() -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(equivalent(r"(x+1)^2", "x^2+2x+1"))
            results.append(equivalent(r"\sqrt{3}/3", r"1/\sqrt{3}"))
        except BaseException as exc:  # noqa: BLE001 - surface it in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [True] * 8


async def test_equivalent_works_in_asyncio_to_thread() -> None:
    assert await asyncio.to_thread(equivalent, r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}")
    assert not await asyncio.to_thread(equivalent, "x^2", "x^3")


def test_is_correct() -> None:
    assert is_correct("18.0", "18") is True
    assert is_correct("(x+1)^2", "x^2+2x+1") is True
    assert is_correct("17", "18") is False
    assert is_correct(None, "18") is False
    assert is_correct("  ", "18") is False
    assert is_correct("18", None) is None
    assert is_correct("(c)", "C", "choice") is True


def test_reference_from_gsm8k() -> None:
    assert reference_from_gsm8k("She sold 48/2 = <<48/2=24>>24 clips.\n#### 72") == "72"
    assert reference_from_gsm8k("Total is 1,234 dollars.\n#### 1,234") == "1234"
    assert reference_from_gsm8k("#### -5") == "-5"
    with pytest.raises(DatasetError, match="####"):
        reference_from_gsm8k("no marker here")


@pytest.mark.parametrize("text, kept", [
    ("a<think>x</think>b", "ab"),
    ("a</think>b<think>c</think>d", "bd"),             # a stray close: before it was thinking
    ("x<think>a</think>y</think>z", "z"),
    ("x<THINK>a<think>b</think>c", "xc"),              # a block ends at its first close
    ("keep <think>never closed", "keep "),
    ("<think>" * 5000 + "42", ""),                      # unclosed tags only: nothing is said
    ("no tags at all", "no tags at all"),
])
def test_strip_think_reads_tags_in_one_pass(text: str, kept: str) -> None:
    assert strip_think(text) == kept


def test_the_last_answer_phrase_wins_among_thousands() -> None:
    text = "The answer is 3. " * 5000 + "The answer is 7."
    assert extract_answer(text) == "7"
    assert extract_answer("The answer is " * 20000) is None
