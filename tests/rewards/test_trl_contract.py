"""The rewards called exactly as TRL's GRPOTrainer calls reward functions.

TRL itself is not installed here: it needs torch, and PyPI's torch wheel pulls the whole CUDA
stack (several GB), with no CPU-only index reachable. ``grpo_rewards`` below follows
``GRPOTrainer._calculate_rewards`` of TRL 1.16 line by line (the dataset columns but
``prompt``/``completion``/``completion_ids`` become keyword lists; ``trainer_state``,
``log_extra`` and ``log_metric`` are added; sync functions are called in the training thread,
async ones are gathered on a loop in another thread; ``None`` becomes NaN), with TRL's own
``get_callable_name`` and ``is_async_callable`` rules. When trl is installed, the last test
runs the real helpers too.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import pickle
import shutil
import threading
from typing import Any

import pytest

import ponder.rewards as rewards
from ponder.rewards import accuracy_reward, format_reward, with_options


def callable_name(func: Any) -> str:  # trl.trainer.utils.get_callable_name
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


def is_async(func: Any) -> bool:  # trl.trainer.utils.is_async_callable
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(func.__call__)


class TrainerState:
    global_step = 3


def grpo_rewards(reward_funcs: list[Any], inputs: list[dict[str, Any]], prompts: list[Any],
                 completions: list[Any], completion_ids: list[list[int]]) -> dict[str, list[float]]:
    """One GRPO step's reward table, computed the way TRL 1.16 computes it."""
    keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = TrainerState()
    reward_kwargs["log_extra"] = lambda *a, **k: None
    reward_kwargs["log_metric"] = lambda *a, **k: None
    table: dict[str, list[float]] = {}
    pending = []
    for func in reward_funcs:
        if is_async(func):
            pending.append(func)
            continue
        out = func(prompts=prompts, completions=completions, completion_ids=completion_ids,
                   **reward_kwargs)
        assert len(out) == len(prompts)
        table[callable_name(func)] = [math.nan if r is None else float(r) for r in out]
    if pending:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()

        async def gather() -> list[list[Any]]:
            return await asyncio.gather(*(f(prompts=prompts, completions=completions,
                                            completion_ids=completion_ids, **reward_kwargs)
                                          for f in pending))
        try:
            outs = asyncio.run_coroutine_threadsafe(gather(), loop).result(timeout=120)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
        for func, out in zip(pending, outs):
            assert len(out) == len(prompts)
            table[callable_name(func)] = [math.nan if r is None else float(r) for r in out]
    return table


def gsm8k_batch(conversational: bool) -> tuple[list[dict], list[Any], list[Any]]:
    """Two prompts x two generations, with GSM8K's columns (and an extra one)."""
    rows = [{"prompt": "Tom has 3 apples and buys 4. How many?", "answer": "3 + 4 = 7\n#### 7",
             "source": "gsm8k"},
            {"prompt": "Name a colour.", "answer": None, "source": "free"}]
    texts = ["<think>3 + 4 = 7</think>\nThe answer is 7.", "The answer is 8.",
             "<think>any</think>\nAnswer: blue", "blue"]
    inputs = [rows[0], rows[0], rows[1], rows[1]]
    if conversational:
        prompts = [[{"role": "user", "content": r["prompt"]}] for r in inputs]
        completions = [[{"role": "assistant", "content": t}] for t in texts]
    else:
        prompts, completions = [r["prompt"] for r in inputs], texts
    return inputs, prompts, completions


@pytest.mark.parametrize("conversational", [False, True])
def test_grpo_reward_table_for_accuracy_and_format(conversational: bool) -> None:
    inputs, prompts, completions = gsm8k_batch(conversational)
    table = grpo_rewards([accuracy_reward, format_reward], inputs, prompts, completions,
                         [[1, 2]] * 4)
    assert table["format_reward"] == [1.0, 0.0, 1.0, 0.0]
    acc = table["accuracy_reward"]
    assert acc[:2] == [1.0, 0.0] and all(math.isnan(v) for v in acc[2:])  # no reference: None


def test_async_and_renamed_rewards_through_the_same_plumbing() -> None:
    inputs, prompts, completions = gsm8k_batch(True)
    inputs = [{("gold" if k == "answer" else k): v for k, v in row.items()} for row in inputs]
    funcs = [with_options(rewards.accuracy_reward_async, reference="gold"), rewards.format_reward_async]
    assert all(is_async(f) for f in funcs)
    table = grpo_rewards(funcs, inputs, prompts, completions, [[1]] * 4)
    assert table["accuracy_reward_async"][:2] == [1.0, 0.0]
    assert table["format_reward_async"] == [1.0, 0.0, 1.0, 0.0]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_code_rewards_through_the_plumbing_sync_and_async() -> None:
    prompt = 'def add(a, b):\n    """Add."""\n'
    row = {"prompt": prompt, "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
           "entry_point": "add", "task_id": "t/0"}
    completions = ["```python\ndef add(a, b):\n    return a + b\n```",
                   "```python\ndef add(a, b):\n    return 5\nimport os\nos._exit(0)\n```"]
    table = grpo_rewards([rewards.code_reward, rewards.code_reward_async], [row, row],
                         [prompt, prompt], completions, [[1], [2]])
    assert table == {"code_reward": [1.0, 0.0], "code_reward_async": [1.0, 0.0]}


def test_reward_funcs_survive_pickling_for_worker_processes() -> None:
    funcs = [accuracy_reward, format_reward, rewards.code_reward, rewards.program_agreement_reward,
             with_options(accuracy_reward, reference="solution")]
    for func in funcs:
        assert callable_name(pickle.loads(pickle.dumps(func))) == callable_name(func)


def test_with_trl_installed_its_own_helpers_agree() -> None:
    utils = pytest.importorskip("trl.trainer.utils", reason="trl not installed (needs torch)")
    for func in (accuracy_reward, rewards.code_reward_async,
                 with_options(rewards.format_reward_async, require_think=False)):
        assert utils.get_callable_name(func) == callable_name(func)
        assert utils.is_async_callable(func) == is_async(func)
