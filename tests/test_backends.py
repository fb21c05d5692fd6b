"""Model backends as peers: chosen by prefix, per-call options as plain arguments."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ponder.backends import (BACKENDS, Backend, Call, ModelStatus, backend_for,
                             register_backend)
from ponder.backends.embedded import EmbeddedBackend
from ponder.backends.litellm import LiteLLMBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.cache import ResponseCache
from ponder.config import RoleConfig, load_config
from ponder.errors import BackendError, ConfigError
from ponder.models import ModelClient, check_model
from ponder.providers import Profile
from ponder.responses import Choice, completions
from ponder.scripted import register_script
from ponder.types import Completion

ROOT = Path(__file__).resolve().parents[1]


def client_for(model: str, tmp_path, *, retries: int = 0, **kw) -> tuple[ModelClient, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    cfg = load_config(None, store=tmp_path / "s.db",
                      roles={"reasoner": RoleConfig(model=model, retries=retries)})
    return ModelClient(cfg, sleep=sleep, **kw), sleeps


class EchoBackend:
    """A user's backend: answers with the sample index and seed it was handed."""

    remote = False

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def profile(self, model: str) -> Profile:
        return Profile(model=model)

    def style(self, model: str) -> str:
        return "completion"

    def status(self, role: str, spec: RoleConfig, *, reach: bool = False,
               timeout: float = 5.0) -> ModelStatus:
        return ModelStatus(role, spec.model, True, "echoes")

    async def complete(self, spec: RoleConfig, call: Call) -> list[Completion]:
        self.calls.append(call)
        texts = [f"sample {call.first + i} seed {call.seed + i}" for i in range(call.n)]
        return completions(spec.model, [Choice(t, "stop") for t in texts],
                           prompt_tokens=3, completion_tokens=4 * call.n)


@pytest.fixture
def echo():
    backend = EchoBackend()
    register_backend("echo", backend)
    yield backend
    BACKENDS.pop("echo")


def test_builtin_backends_are_picked_by_prefix():
    assert isinstance(backend_for("local/gemma-3-270m"), EmbeddedBackend)
    assert isinstance(backend_for("scripted/anything"), ScriptedBackend)
    for model in ("openai/o4-mini", "deepseek/deepseek-reasoner", "hosted_vllm/qwen3"):
        assert isinstance(backend_for(model), LiteLLMBackend)
    assert all(isinstance(b, Backend) for b in BACKENDS.values())


async def test_a_registered_backend_serves_its_prefix_through_the_client(echo, tmp_path):
    client, _ = client_for("echo/parrot", tmp_path)
    out = await client.acomplete("reasoner", "q", n=3, first_index=2, seed=100,
                                 max_tokens=9, stop=["\n"])
    assert [c.text for c in out] == ["sample 2 seed 102", "sample 3 seed 103", "sample 4 seed 104"]
    [call] = echo.calls  # one call for the three samples: the profile takes n
    assert call.params["max_tokens"] == 9 and call.params["stop"] == ["\n"]
    assert sum(c.usage.completion_tokens for c in out) == 12 and out[0].usage.prompt_tokens == 3
    assert client.style("reasoner") == "completion"
    assert check_model("reasoner", client.role("reasoner")).detail == "echoes"


def test_register_backend_refuses_what_is_not_a_backend():
    with pytest.raises(ConfigError, match="not a model backend: give it `remote`"):
        register_backend("broken", object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="without '/'"):
        register_backend("a/b", EchoBackend())
    assert "broken" not in BACKENDS


class _FakeEngine:
    """Generates one token per step and asks the call's own stop rule after each; two watched
    calls must both be generating before either goes on, so they really overlap."""

    def __init__(self) -> None:
        self.together = threading.Barrier(2, timeout=10)

    def complete(self, name, messages, *, max_tokens, stop_when=None, **params):
        logprobs: list[float] = []
        for step in range(max_tokens):
            logprobs.append(-0.1)
            if step == 0 and stop_when is not None:
                self.together.wait()
            time.sleep(0.005)
            if stop_when is not None and stop_when(logprobs):
                return {"text": "x " * step, "finish_reason": "low_confidence",
                        "usage": {"prompt_tokens": 1, "completion_tokens": step},
                        "logprobs": logprobs[:step]}
        return {"text": "x " * max_tokens, "finish_reason": "length",
                "usage": {"prompt_tokens": 1, "completion_tokens": max_tokens},
                "logprobs": logprobs}


async def test_concurrent_embedded_calls_keep_their_own_stop_rules(tmp_path, monkeypatch):
    fake = _FakeEngine()
    monkeypatch.setattr("ponder.backends.embedded.shared_engine", lambda: fake)
    client, _ = client_for("local/smollm2-135m", tmp_path)
    short, long = await asyncio.gather(
        client.acomplete("reasoner", "q", max_tokens=40, logprobs=True,
                         stop_when=lambda lps: len(lps) >= 3),
        client.acomplete("reasoner", "q", max_tokens=40, logprobs=True,
                         stop_when=lambda lps: len(lps) >= 9))
    assert (short[0].usage.completion_tokens, long[0].usage.completion_tokens) == (2, 8)
    assert short[0].finish_reason == long[0].finish_reason == "low_confidence"
    [free] = await client.acomplete("reasoner", "q", max_tokens=5, logprobs=True)
    assert free.usage.completion_tokens == 5 and free.finish_reason == "length"


@pytest.mark.slow
async def test_concurrent_real_embedded_calls_keep_their_own_stop_rules(embedded_config):
    client = ModelClient(embedded_config)
    prompt = "Tell me a long story about a dragon."
    short, long = await asyncio.gather(*[
        client.acomplete("standard", prompt, temperature=1.0, max_tokens=48, logprobs=True,
                         stop_when=lambda lps, k=k: len(lps) >= k) for k in (3, 9)])
    assert short[0].finish_reason == long[0].finish_reason == "low_confidence"
    assert short[0].usage.completion_tokens < long[0].usage.completion_tokens <= 9


async def test_a_stop_rule_does_not_split_the_cache(tmp_path):
    calls = []

    def script(messages, i):
        calls.append(i)
        return "Answer: 1"

    model = register_script("backends-cached", script)
    client, _ = client_for(model, tmp_path, cache=ResponseCache(tmp_path / "c.db"))
    await client.acomplete("reasoner", "q", stop_when=lambda lps: False)
    [again] = await client.acomplete("reasoner", "q", stop_when=lambda lps: True)
    assert again.cached and calls == [0]


async def test_a_failing_script_is_a_retried_model_failure(tmp_path):
    failures = ["model fell over"]

    def flaky(messages, i):
        if failures:
            raise RuntimeError(failures.pop())
        return "Answer: 2"

    client, sleeps = client_for(register_script("backends-flaky", flaky), tmp_path, retries=2)
    [c] = await client.acomplete("reasoner", "q")
    assert c.text == "Answer: 2" and len(sleeps) == 1


async def test_an_unregistered_script_says_how_to_register_it(tmp_path):
    client, sleeps = client_for("scripted/backends-never-registered", tmp_path, retries=3)
    with pytest.raises(BackendError, match="register it with ponder.scripted.register_script") as info:
        await client.acomplete("reasoner", "q")
    assert info.value.model == "scripted/backends-never-registered"
    assert not info.value.retryable and sleeps == []
    status = check_model("reasoner", client.role("reasoner"))
    assert not status.usable and "register it with ponder.scripted.register_script" in status.detail


def test_only_the_litellm_backend_imports_litellm():
    imports = re.compile(r"^\s*(?:import|from)\s+litellm\b", re.M)
    found = sorted(str(path.relative_to(ROOT)) for folder in ("ponder", "agents", "graphs", "ui")
                   for path in (ROOT / folder).rglob("*.py") if imports.search(path.read_text()))
    assert found == ["ponder/backends/litellm.py"]


def test_importing_the_client_does_not_import_litellm():
    code = "import sys, ponder.models; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
