"""The README's real-provider config, unchanged but for where the stand-ins listen, runs every
strategy (or refuses up front, naming the model and why) and never ends blank without a word."""

from __future__ import annotations

import pytest

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.graphs.api import STRATEGIES
from tests.providers.standins import StandIn, chat_reply, openai_error

PROGRAM = "```python\nanswer(6 * 7)\n```"

BEAM = {"beam_width": 2, "beam_expand": 2, "beam_depth": 2}


def deepseek(path, body, standin):
    if body.get("logprobs") or body.get("top_logprobs"):
        return openai_error(400, "deepseek-reasoner does not support the parameter `logprobs`",
                            "logprobs")
    wants_code = "python" in body["messages"][-1]["content"].lower()
    return chat_reply("deepseek-reasoner", [(PROGRAM if wants_code else "Answer: 42",
                                             "6 times 7 is 42")] * int(body.get("n") or 1),
                      completion_tokens=400, reasoning_tokens=300)


def gpt_mini(path, body, standin):
    wants_code = "python" in body["messages"][-1]["content"].lower()
    text = PROGRAM if wants_code else "6 times 7 is 42.\nAnswer: 42"
    return chat_reply("gpt-4.1-mini", [(text, None)] * int(body.get("n") or 1))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_runs_on_the_readme_config_or_refuses_up_front(serve, tmp_path, strategy):
    reasoner, standard = serve(StandIn(deepseek)), serve(StandIn(gpt_mini))
    config = load_config(None, store=tmp_path / "readme.db", roles={
        "reasoner": RoleConfig(model="deepseek/deepseek-reasoner", max_tokens=8000,
                               api_base=reasoner.base),
        "standard": RoleConfig(model="openai/gpt-4.1-mini", api_base=standard.base + "/v1"),
    })
    options = SolveOptions(samples=4, settings=BEAM if strategy == "beam" else {})
    result = ponder.solve("What is 6 times 7?", strategy, config=config, options=options)
    assert result.answer == "42", (result.stopped, result.notes)
    assert all("logprobs" not in r for r in reasoner.requests)
    assert result.usage.calls >= 1 and result.usage.completion_tokens > 0
    if strategy == "beam":  # the judge (the standard role here) scores the reasoner's steps
        assert result.stopped == "search_complete" and "judge" in result.models
        assert any("the judge gave no score for some steps" in n for n in result.notes)
        return
    assert result.stopped in ("decided", "adaptive", "max_samples")
