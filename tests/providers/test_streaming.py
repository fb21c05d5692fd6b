"""DeepConf's online cut-off on remote OpenAI-compatible servers: streamed, watched, closed."""

from __future__ import annotations

from ponder.config import RoleConfig
from tests.providers.standins import StandIn, chat_reply, token_stream

MODEL = "hosted_vllm/Qwen/Qwen3-8B"
CONFIDENT = [(" 6", -0.01), (" times", -0.02), (" 7", -0.01), (" is", -0.03), (" 42.", -0.01)]


def _server(tokens, delay=0.0):
    def reply(path, body, standin):
        if body.get("stream"):
            return token_stream("Qwen/Qwen3-8B", tokens, delay=delay)
        return chat_reply("Qwen/Qwen3-8B", [("".join(t for t, _ in tokens), None)])

    return StandIn(reply)


def test_a_collapsing_branch_is_cut_mid_stream_and_billed_for_what_arrived(serve, solve_with):
    rambling = CONFIDENT + [(" um", -4.0)] * 400
    api = serve(_server(rambling, delay=0.002))
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base + "/v1"),
                           strategy="cot", collapse_floor=0.2)
    [request] = api.requests
    assert request["stream"] is True and request["logprobs"] is True
    assert request["stream_options"] == {"include_usage": True}
    [branch] = result.branches
    received = branch.usage.completion_tokens
    assert 16 <= received < 40  # the window of 16 filled with low-confidence tokens, then cut
    assert branch.usage.prompt_tokens > 0 and branch.usage.calls == 1
    assert api.streamed and api.streamed[0] < 80  # the server stopped soon after, not at 405


def test_a_confident_stream_runs_to_the_end_with_the_servers_usage(serve, solve_with):
    api = serve(_server(CONFIDENT + [("\nAnswer:", -0.01), (" 42", -0.01)]))
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base + "/v1"),
                           strategy="self-consistency", samples=2, collapse_floor=0.2)
    assert [r["stream"] for r in api.requests] == [True, True]
    assert result.answer == "42"
    assert [b.usage.completion_tokens for b in result.branches] == [7, 7]
    assert [b.usage.prompt_tokens for b in result.branches] == [20, 20]
    assert all(b.confidence is not None and b.confidence > 0.9 for b in result.branches)


def test_without_a_cut_off_rule_nothing_streams(serve, solve_with):
    api = serve(_server(CONFIDENT + [("\nAnswer:", -0.01), (" 42", -0.01)]))
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base + "/v1"), samples=2)
    assert all(not r.get("stream") for r in api.requests) and result.answer == "42"


async def test_a_live_viewer_gets_the_remote_text_as_it_streams(serve, tmp_path):
    from ponder.config import load_config
    from ponder.models import ModelClient

    tokens = CONFIDENT + [("\nAnswer:", -0.01), (" 42", -0.01)]
    api = serve(_server(tokens, delay=0.002))
    config = load_config(None, store=tmp_path / "s.db", roles={
        "reasoner": RoleConfig(model=MODEL, api_base=api.base + "/v1")})
    pieces: list[str] = []
    [completion] = await ModelClient(config).acomplete("reasoner", "What is 6 times 7?",
                                                       on_text=pieces.append)
    [request] = api.requests
    assert request["stream"] is True and "logprobs" not in request  # streamed for the text only
    assert pieces == [t for t, _ in tokens] and "".join(pieces).strip() == completion.text
    assert completion.usage.completion_tokens == len(tokens)
