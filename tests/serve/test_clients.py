"""The real OpenAI client and LiteLLM against ``ponder serve``: answers, reasoning, usage equal
to the stored run's, streaming, per-request overrides, model listing, multi-turn context."""

from __future__ import annotations

import openai
import pytest

from ponder.serve import RUN_HEADER
from ponder.types import Usage

from .conftest import KEY

QUESTION = [{"role": "user", "content": "What is 6 times 7?"}]


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def stored(store, run_id: str):
    run = store.require_run(run_id)
    [result] = list(store.results(run_id))
    return run, result


def test_chat_completion_is_a_voted_answer_recorded_as_a_serve_run(server, store):
    raw = client(server).chat.completions.with_raw_response.create(
        model="self-consistency@4", messages=QUESTION, extra_body={"ponder": {"early_stop": False}})
    completion = raw.parse()
    run_id = raw.headers[RUN_HEADER]
    ext = completion.model_extra["ponder"]
    message = completion.choices[0].message

    assert message.content == ("Let me think. The answer is 42.\n\nVerdict: unverified. The "
                               "answer could not be verified (confidence 0.75).\n"
                               "The answer is 42.\n#### 42")
    assert completion.model == "self-consistency"
    assert message.model_extra["reasoning_content"] == "6 times 7, carefully."
    assert ext["run_id"] == run_id and ext["strategy"] == "self-consistency"
    assert ext["verdict"] == "unverified" and ext["content"] == "solution"
    assert ext["votes"]["42"]["count"] == 3 and ext["votes"]["41"]["count"] == 1
    assert ext["samples_used"] == 4 and ext["confidence"] == pytest.approx(0.75, abs=0.05)
    run, result = stored(store, run_id)
    assert (run.kind, run.status, run.strategies) == ("serve", "done", ["self-consistency"])
    assert run.meta["model"] == "self-consistency@4"
    assert result.answer == "42"
    assert_usage_matches(completion.usage, result.usage)
    assert result.usage == Usage.total([b.usage for b in result.branches])
    assert completion.usage.completion_tokens > 0


def assert_usage_matches(usage, stored_usage: Usage) -> None:
    assert usage.prompt_tokens == stored_usage.prompt_tokens
    assert usage.completion_tokens == stored_usage.completion_tokens
    assert usage.total_tokens == stored_usage.total_tokens
    assert usage.completion_tokens_details.reasoning_tokens == stored_usage.reasoning_tokens


def test_streaming_sends_progress_as_reasoning_then_the_answer(server, store):
    chunks = list(client(server).chat.completions.create(
        model="self-consistency@4", messages=QUESTION, stream=True,
        stream_options={"include_usage": True}, extra_body={"ponder": {"early_stop": False}}))

    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(d.model_extra.get("reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert content.endswith("The answer is 42.\n#### 42") and "Verdict: unverified" in content
    assert "sampling 4 branches with the reasoner role" in reasoning
    assert reasoning.count("branch") >= 4 and "vote: leader 42" in reasoning
    assert reasoning.endswith("6 times 7, carefully.")
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not d.model_extra.get("reasoning_content") for d in deltas[first_content:])
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"self-consistency"}
    run_id = chunks[-2].model_extra["ponder"]["run_id"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    run, result = stored(store, run_id)
    assert run.status == "done" and run.meta["stream"] is True
    assert_usage_matches(chunks[-1].usage, result.usage)


def test_extra_body_overrides_the_model_name(server, store):
    completion = client(server).chat.completions.create(
        model="cot", messages=QUESTION,
        extra_body={"ponder": {"strategy": "self-consistency", "samples": 3, "seed": 0}})

    ext = completion.model_extra["ponder"]
    assert ext["strategy"] == "self-consistency" and ext["max_samples"] == 3
    assert completion.model == "self-consistency"  # the strategy that ran, not the one named
    assert store.require_run(ext["run_id"]).config["options"]["samples"] == 3


def test_a_top_level_seed_seeds_the_run_and_is_echoed(server, store):
    completion = client(server).chat.completions.create(model="cot", messages=QUESTION, seed=1234)

    ext = completion.model_extra["ponder"]
    assert ext["seed"] == 1234 and "seed" not in ext["ignored_params"]
    [result] = list(store.results(ext["run_id"]))
    assert result.seed == 1234
    assert store.require_run(ext["run_id"]).config["options"]["seed"] == 1234


def test_every_field_ponder_does_not_honour_is_listed_as_ignored(server):
    completion = client(server).chat.completions.create(
        model="cot", messages=QUESTION, temperature=0.3, top_p=0.9, max_tokens=50,
        logprobs=True, extra_body={"min_p": 0.1, "repetition_penalty": 1.1})

    assert completion.model_extra["ponder"]["ignored_params"] == [
        "logprobs", "max_tokens", "min_p", "repetition_penalty", "temperature", "top_p"]


def test_answer_content_is_the_bare_answer_per_request(server):
    completion = client(server).chat.completions.create(
        model="cot", messages=QUESTION, extra_body={"ponder": {"content": "answer"}})

    assert completion.choices[0].message.content == "42"
    assert completion.model_extra["ponder"]["content"] == "answer"


def test_earlier_turns_are_context_for_the_last_question(server, store):
    completion = client(server).chat.completions.create(model="cot", messages=[
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "Remember x = 6."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [{"type": "text", "text": "What is x times 7?"}]},
    ], temperature=0.2)

    run_id = completion.model_extra["ponder"]["run_id"]
    [problem_id] = [r.problem_id for r in store.results(run_id)]
    question = store.problem(run_id, problem_id).question
    assert question.startswith("Conversation so far:\nsystem: Answer with a number.")
    assert "user: Remember x = 6.\nassistant: Noted." in question
    assert question.endswith("Question: What is x times 7?")
    assert completion.model_extra["ponder"]["ignored_params"] == ["temperature"]


def test_models_lists_every_strategy_and_configured_pairs(server):
    from ponder.graphs.api import STRATEGIES

    ids = [m.id for m in client(server).models.list()]
    assert ids[:len(STRATEGIES)] == list(STRATEGIES)
    assert "verified:scripted/serve-votes" in ids


def test_litellm_as_a_client_gets_the_answer_reasoning_and_usage(server, store):
    import litellm

    response = litellm.completion(model="hosted_vllm/self-consistency@4", messages=QUESTION,
                                  api_base=server.base_url, api_key=KEY)
    message = response.choices[0].message
    assert message.content.endswith("The answer is 42.\n#### 42")
    assert "Verdict: unverified" in message.content
    assert message.reasoning_content == "6 times 7, carefully."
    run_id = response.model_extra["ponder"]["run_id"] if response.model_extra.get("ponder") \
        else response.id.removeprefix("chatcmpl-")
    _, result = stored(store, run_id)
    assert response.usage.prompt_tokens == result.usage.prompt_tokens
    assert response.usage.completion_tokens == result.usage.completion_tokens

    stream = litellm.completion(model="hosted_vllm/self-consistency@4", messages=QUESTION,
                                api_base=server.base_url, api_key=KEY, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == message.content


def test_a_served_run_lists_its_question_and_client_like_a_solve(server, store, store_path):
    import json

    from typer.testing import CliRunner

    from ponder.cli import app

    run_id = client(server).chat.completions.create(
        model="cot", messages=QUESTION).model_extra["ponder"]["run_id"]

    listed = CliRunner().invoke(app, ["runs", "--json", "--store", str(store_path)])
    [row] = [r for r in json.loads(listed.stdout) if r["id"] == run_id]
    assert (row["kind"], row["question"], row["client"]) == ("serve", "What is 6 times 7?",
                                                            "127.0.0.1")
    table = CliRunner().invoke(app, ["runs", "--store", str(store_path)], env={"COLUMNS": "160"})
    assert "What is 6 times 7?" in table.stdout
    [page_row] = store.run_rows(kind="serve")  # what the UI's Runs page lists
    assert page_row["question"] == "What is 6 times 7?"
