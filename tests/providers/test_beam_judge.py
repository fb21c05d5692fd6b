"""Beam search on reasoning models without log-probabilities (o4-mini, deepseek-reasoner): the
judge scores each step, one line per proposal, and no request carries a parameter the
provider rejects."""

from __future__ import annotations

import json

import pytest

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.errors import ConfigError
from ponder.scripted import register_script
from tests.providers.standins import StandIn, deepseek_reasoner, openai_o_series

BEAM = {"beam_width": 2, "beam_expand": 2, "beam_depth": 3}


def beam_text(prompt: str) -> str:
    """What a reasoning model replies to a beam step or to the judge (no stop: whole blocks)."""
    if "Proposed next line" in prompt:
        step = prompt.rsplit("Proposed next line", 1)[1]
        return "Checked.\nScore: 0.9" if "6 * 7" in step or "print" in step else "Score: 0.2"
    partial = prompt.split("Program so far", 1)[1]
    if "x = " in partial:
        return "```python\nprint(x)\n```"
    return "```python\nx = 6 * 7\nprint(x)\n```"  # more than a line: the first one is the step


def o_series_beam() -> StandIn:
    """The o4-mini stand-in's rules, with replies that fit a beam step or a judge prompt."""
    rules = openai_o_series()

    def reply(path, body, standin):
        status, headers, raw = rules.answer(path, body, standin)
        if status != 200:
            return status, headers, raw
        data = json.loads(raw)
        for choice in data["choices"]:
            choice["message"]["content"] = beam_text(body["messages"][-1]["content"])
        return status, headers, json.dumps(data).encode()

    return StandIn(reply)


def solve(tmp_path, roles, **beam):
    cfg = load_config(None, store=tmp_path / "beam.db", roles=roles)
    options = SolveOptions(settings={**BEAM, **beam})
    return ponder.solve("What is 6 times 7?", "beam", config=cfg, options=options)


def test_o4_mini_proposes_and_judges_with_only_what_it_accepts(serve, tmp_path):
    api = serve(o_series_beam())
    o4 = RoleConfig(model="openai/o4-mini", api_base=api.base + "/v1")
    result = solve(tmp_path, {"reasoner": o4, "judge": o4})
    assert result.answer == "42" and result.stopped == "search_complete"
    for sent in api.requests:
        assert not {"stop", "logprobs", "top_logprobs", "top_p", "max_tokens"} & set(sent)
        assert sent.get("temperature") in (None, 1)
    steps = [r for r in api.requests if "Program so far" in r["messages"][-1]["content"]]
    judged = [r for r in api.requests if "Proposed next line" in r["messages"][-1]["content"]]
    assert steps and judged and len(steps) + len(judged) == len(api.requests)
    # One step per proposal, its reasoning bounded: low effort, 4096 output tokens in all.
    assert all(r["reasoning_effort"] == "low" and r["max_completion_tokens"] == 4096
               and r["n"] == 2 for r in steps)
    assert all("Score: <a number from 0 to 1>" in r["messages"][-1]["content"] for r in judged)
    assert result.models == {"reasoner": "openai/o4-mini", "judge": "openai/o4-mini"}
    assert result.usage.reasoning_tokens > 0  # the judge's and the proposer's thinking counted


def test_deepseek_reasoner_proposes_and_a_scripted_judge_scores(serve, tmp_path):
    api = serve(deepseek_reasoner(answer="```python\nprint(6 * 7)\n```"))
    judge = register_script("yes-judge", lambda messages, index: "Yes")
    result = solve(tmp_path, {"reasoner": RoleConfig(model="deepseek/deepseek-reasoner",
                                                     api_base=api.base),
                              "judge": RoleConfig(model=judge)})
    assert result.answer == "42" and result.stopped == "search_complete"
    assert api.requests and all(not {"logprobs", "top_logprobs", "stop", "temperature"} & set(r)
                                for r in api.requests)
    assert all(r["max_tokens"] == 4096 for r in api.requests)  # room to think, bounded
    assert result.branches[0].rewards["judge"] > 0.9


@pytest.mark.parametrize("scorer", ["logprob", "sum"])
def test_a_log_probability_scorer_is_refused_up_front_naming_the_provider(serve, tmp_path, scorer):
    api = serve(deepseek_reasoner())
    with pytest.raises(ConfigError, match=r"beam search cannot score deepseek/deepseek-reasoner "
                                          r".*returns no log-probabilities \(deepseek\)"):
        solve(tmp_path, {"reasoner": RoleConfig(model="deepseek/deepseek-reasoner",
                                                api_base=api.base)}, beam_scorer=scorer)
    assert api.requests == []
