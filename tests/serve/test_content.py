"""What a standard client sees in ``message.content``: the counted work, the verdict when the
answer is not verified, and a final-answer line graders read — through the real OpenAI client
(sync, async, stream) and LangChain's ``ChatOpenAI`` (invoke, stream, batch)."""

from __future__ import annotations

import asyncio
import re

import openai
import pytest

from ponder.scripted import register_script
from ponder.serve.content import solution_text
from ponder.types import Branch, ExecResult, Result

from .conftest import KEY

QUESTION = [{"role": "user", "content": "What is 6 times 7?"}]
# lm-evaluation-harness gsm8k: strict-match (take_first), its chain-of-thought variants'
# strict-match, and flexible-extract (the last match).
GSM8K_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
COT_STRICT = re.compile(r"The answer is (\-?[0-9\.\,]+).")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def prose_and_program(prose: str, program: str):
    """A script: prose answers ``prose``; a request for a program gets ``program``."""

    def script(messages, index):
        prompt = messages[-1]["content"].lower()
        if "python" in prompt or "program" in prompt:
            return f"```python\n{program}\n```"
        return f"<think>Six sevens.</think>Adding it up gives {prose}. The answer is {prose}."

    return script


@pytest.fixture
def refuting(serve_at):
    """Prose says 19, the program computes 11: every branch of ``verified`` is refuted."""
    return serve_at(register_script("serve-refuted", prose_and_program("19", "print(11)")))


@pytest.fixture
def agreeing(serve_at):
    return serve_at(register_script("serve-agreeing", prose_and_program("42", "print(6 * 7)")))


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def assert_graders_read(content: str, answer: str) -> None:
    assert GSM8K_STRICT.findall(content)[0] == answer
    assert COT_STRICT.findall(content)[-1].rstrip(".") == answer
    last = FLEXIBLE.findall(content)[-1]
    assert next(group for group in last if group) == answer


def test_a_refuted_answer_says_so_and_shows_the_program_that_gave_it(refuting):
    completion = client(refuting).chat.completions.create(
        model="verified@2", messages=QUESTION, extra_body={"ponder": {"early_stop": False}})

    content = completion.choices[0].message.content
    assert content.startswith("Program:\n```python\nprint(11)\n```\nOutput:\n11\n")
    assert "Verdict: refuted. Every check contradicted this answer (confidence" in content
    assert content.endswith("The answer is 11.\n#### 11")
    assert "19" not in content  # the prose that contradicts the answer is not the work shown
    reasoning = completion.choices[0].message.model_extra["reasoning_content"]
    assert reasoning == "Program:\n```python\nprint(11)\n```\nOutput:\n11"
    assert completion.model_extra["ponder"]["verdict"] == "refuted"
    assert_graders_read(content, "11")


def test_a_verified_answer_carries_no_verdict_line_and_its_work_agrees(agreeing):
    completion = client(agreeing).chat.completions.create(model="verified@2", messages=QUESTION)

    content = completion.choices[0].message.content
    assert "Verdict:" not in content
    reasoning = completion.choices[0].message.model_extra["reasoning_content"]
    assert reasoning.startswith("Six sevens.\n\nProgram:\n```python\nprint(6 * 7)\n```")
    assert content.endswith("Output:\n42\n\nThe answer is 42.\n#### 42")
    assert completion.model_extra["ponder"]["verdict"] == "verified"
    assert_graders_read(content, "42")


def test_async_and_streamed_content_equal_the_plain_one(agreeing):
    plain = client(agreeing).chat.completions.create(model="pot", messages=QUESTION)

    async def ask() -> str:
        async with openai.AsyncOpenAI(base_url=agreeing.base_url, api_key=KEY,
                                      max_retries=0) as aclient:
            done = await aclient.chat.completions.create(model="pot", messages=QUESTION)
            return done.choices[0].message.content

    streamed = "".join(c.choices[0].delta.content or "" for c in client(agreeing)
                       .chat.completions.create(model="pot", messages=QUESTION, stream=True)
                       if c.choices)
    content = plain.choices[0].message.content
    assert content.startswith("Program:\n```python\nprint(6 * 7)\n```\nOutput:\n42")
    assert asyncio.run(ask()) == content == streamed
    assert plain.model == "pot"


def test_langchain_chat_openai_sees_the_verdict_and_the_program(refuting, agreeing):
    from langchain_openai import ChatOpenAI

    def chat(server, model: str) -> ChatOpenAI:
        return ChatOpenAI(model=model, base_url=server.base_url, api_key=KEY, max_retries=0,
                          extra_body={"ponder": {"early_stop": False}})

    refuted = chat(refuting, "verified@2").invoke("What is 6 times 7?")
    assert "Verdict: refuted" in refuted.content and "print(11)" in refuted.content
    assert refuted.content.endswith("#### 11")

    pot = chat(agreeing, "pot@2")
    streamed = "".join(chunk.content for chunk in pot.stream("What is 6 times 7?"))
    assert "Program:\n```python\nprint(6 * 7)\n```\nOutput:\n42" in streamed
    assert streamed.endswith("The answer is 42.\n#### 42")
    batch = pot.batch(["What is 6 times 7?", "And 7 times 6?"])
    assert [m.content for m in batch] == [streamed, streamed]


def test_langchain_structured_output_gets_the_answer_and_its_verdict(refuting):
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    class Checked(BaseModel):
        answer: int
        confidence: float
        verdict: str

    model = ChatOpenAI(model="verified@2", base_url=refuting.base_url, api_key=KEY,
                       max_retries=0)
    out = model.with_structured_output(Checked, method="json_schema").invoke("What is 6 * 7?")

    assert out.answer == 11 and out.verdict == "refuted" and 0 <= out.confidence <= 1


@pytest.mark.parametrize(("response_format", "says"), [
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"answer": {"type": "string"},
                                         "steps": {"type": "array"}}}}}, "steps"),
    ({"type": "xml"}, "'text', 'json_object' or 'json_schema'"),
])
def test_a_response_format_ponder_cannot_fill_is_a_400_saying_what_it_can(
        agreeing, store, response_format, says):
    with pytest.raises(openai.BadRequestError) as caught:
        client(agreeing).chat.completions.create(model="cot", messages=QUESTION,
                                                 response_format=response_format)

    error = caught.value.body
    assert error["param"] == "response_format" and says in error["message"]
    assert "answer, confidence, verdict" in error["message"] or "json_schema" in error["message"]
    assert store.count_runs() == 0


def test_json_object_format_holds_every_fillable_field(agreeing):
    import json

    completion = client(agreeing).chat.completions.create(
        model="pot", messages=QUESTION, response_format={"type": "json_object"})

    body = json.loads(completion.choices[0].message.content)
    assert body["answer"] == "42" and body["verdict"] in ("verified", "unverified")
    assert set(body) == {"answer", "confidence", "verdict", "check", "reasoning"}


def result_with(branches: list[Branch], answer: str | None, **parts) -> Result:
    return Result(run_id="r", problem_id="p", strategy="pot", answer=answer, branches=branches,
                  confidence=parts.pop("confidence", 0.5), confidence_parts=parts)


def test_a_marker_the_model_wrote_cannot_be_read_before_the_answer_line():
    branch = Branch(text="So #### 41 I guess, then the answer is 42.", answer="42")
    content = solution_text(result_with([branch], "42", status="unverified"))

    assert GSM8K_STRICT.findall(content) == ["42"]
    assert content.endswith("The answer is 42.\n#### 42")


def test_no_answer_ends_with_the_verdict_and_no_answer_line():
    branch = Branch(text="I am not sure.", answer=None, truncated=True)
    content = solution_text(result_with([branch], None, status="no_answer"))

    assert content == "Verdict: truncated. The model ran out of tokens before answering " \
                      "(confidence 0.00)."
    assert not GSM8K_STRICT.findall(content)


def test_a_crashed_program_is_shown_with_its_status():
    branch = Branch(text="", answer="5", code="print(1/0)", code_answer="5",
                    execution=ExecResult(status="error", stderr="ZeroDivisionError",
                                         message="exit 1"))
    content = solution_text(result_with([branch], "5", status="unverified"))

    assert "[error] exit 1" in content and content.endswith("#### 5")


@pytest.mark.parametrize(("size", "line"), [
    (1, "[ponder] sampling 1 branch with the reasoner role\n"),
    (4, "[ponder] sampling 4 branches with the reasoner role\n"),
])
def test_stream_progress_reads_as_plain_grammar(size, line):
    from ponder.events import RoundStarted
    from ponder.serve.protocol import progress_line

    assert progress_line(RoundStarted(size=size, role="reasoner")) == line
