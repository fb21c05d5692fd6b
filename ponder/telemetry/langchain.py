"""Model calls as LLM runs for LangChain callback handlers (LangSmith's tracer among them).

LangGraph gives every node a callback manager whose runs are the node's children; a model
call made inside a node reports itself through it as a chat-model run, with the model,
provider, parameters, messages, token usage and cost, so LangSmith charts it as an LLM run
under the node that made it. With no handler configured (LangSmith tracing off, no
``callbacks`` passed) nothing is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ponder.types import Completion, Usage


class LLMRun:
    """One model call's run in every configured handler."""

    def __init__(self, managers: list[Any], model: str):
        self.managers, self.model = managers, model

    def finish(self, completions: list[Completion]) -> None:
        from langchain_core.messages import AIMessage
        from langchain_core.outputs import ChatGeneration, LLMResult

        usage = Usage.total([c.usage for c in completions])
        generations = [ChatGeneration(message=AIMessage(
            content=c.text, usage_metadata=usage_metadata(c.usage),
            response_metadata={"model_name": c.model, "finish_reason": c.finish_reason}),
            generation_info={"finish_reason": c.finish_reason}) for c in completions]
        output = {"model_name": self.model, "cost_usd": usage.cost_usd,
                  "token_usage": {"prompt_tokens": usage.prompt_tokens,
                                  "completion_tokens": usage.completion_tokens,
                                  "total_tokens": usage.total_tokens,
                                  "reasoning_tokens": usage.reasoning_tokens}}
        for manager in self.managers:
            manager.on_llm_end(LLMResult(generations=[generations], llm_output=output))

    def fail(self, error: BaseException) -> None:
        for manager in self.managers:
            manager.on_llm_error(error)


def usage_metadata(usage: Usage) -> dict[str, Any]:
    """ponder's usage in LangChain's ``UsageMetadata`` shape (what LangSmith reads)."""
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens, "total_cost": usage.cost_usd,
            "output_token_details": {"reasoning": usage.reasoning_tokens}}


def start_llm_run(*, model: str, provider: str, messages: Any,
                  params: Mapping[str, Any]) -> LLMRun | None:
    """Start an LLM run under the current node's LangChain run, or None without handlers."""
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get()
    if not config or not config.get("callbacks"):
        return None
    from langchain_core.callbacks.manager import CallbackManager
    from langchain_core.messages import convert_to_messages

    metadata = {**(config.get("metadata") or {}), "ls_provider": provider,
                "ls_model_name": model, "ls_model_type": "chat"}
    for key in ("temperature", "max_tokens", "stop"):
        if params.get(key) is not None:
            metadata[f"ls_{key}"] = params[key]
    manager = CallbackManager.configure(inheritable_callbacks=config["callbacks"],
                                        inheritable_tags=config.get("tags"),
                                        inheritable_metadata=metadata)
    if not manager.handlers:
        return None
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    chat = convert_to_messages([{"role": m.get("role", "user"), "content": m.get("content") or ""}
                                for m in messages])
    serialized = {"lc": 1, "type": "not_implemented", "id": ["ponder", "ModelClient"],
                  "name": model}
    sent = {k: v for k, v in params.items() if v is not None}
    managers = manager.on_chat_model_start(
        serialized, [chat], invocation_params={"model": model, "_type": provider, **sent},
        options={}, name=model, batch_size=1)
    return LLMRun(managers, model)
