"""The two checkable rewards DeepSeek-R1 was trained with: accuracy and format.

- :func:`accuracy_reward`: ponder's answer extraction and equivalence (numbers in any surface
  form, fractions, LaTeX through math-verify, choice letters, text) against the row's
  reference; ``None`` for a row without one, as TRL expects;
- :func:`format_reward`: reasoning first (``<think>...</think>`` or a provider's separate
  reasoning field), then a final-answer line.

Both take TRL's arguments and never raise on what a model wrote.
"""

from __future__ import annotations

import re
from typing import Any

from ponder.answers import extract_answer, is_correct
from ponder.rewards.inputs import (
    DEFAULTS,
    RewardOptions,
    choice_list,
    column,
    completion_parts,
    log,
    reference_answer,
    row_kind,
    without_think,
)

_MAX_CHARS = 200_000  # a longer completion is read from its end: the answer is there


def accuracy_reward(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                    **kwargs: Any) -> list[float | None]:
    """1.0 when the completion's answer equals the row's reference, 0.0 when not, ``None``
    when the row has no reference.

    Columns (rename with :func:`~ponder.rewards.with_options`): ``answer`` or ``solution``
    (the reference), optional ``kind`` and ``choices``.

    >>> accuracy_reward(["<think>6*7</think> The answer is 42."], answer=["42"])
    [1.0]
    """
    n = len(completions)
    refs = column(kwargs, reward_options.reference, n)
    kinds = column(kwargs, reward_options.kind, n)
    choices = column(kwargs, reward_options.choices, n)
    return [_accuracy(c, r, k, ch, reward_options)
            for c, r, k, ch in zip(completions, refs, kinds, choices)]


def _accuracy(completion: Any, raw_reference: Any, kind: Any, choices: Any,
              options: RewardOptions) -> float | None:
    reference = reference_answer(raw_reference)
    if reference is None:
        return None
    options_list = choice_list(choices)
    row = row_kind(kind, reference, choices, options.default_kind)
    if row == "code":
        log.debug("accuracy_reward: a code row has no reference answer; use code_reward")
        return None
    if row == "choice" and options_list and reference.isdecimal() \
            and int(reference) < len(options_list):
        reference = chr(ord("A") + int(reference))  # a 0-based option index
    text, _ = completion_parts(completion)
    try:
        answer = extract_answer(without_think(text)[-options.answer_window:], row, options_list)
        return 1.0 if is_correct(answer, reference, row) else 0.0
    except Exception as exc:  # noqa: BLE001 - model output must never stop training
        log.warning("accuracy_reward: 0.0 for an unreadable completion (%s: %s)",
                    type(exc).__name__, str(exc)[:200])
        return 0.0


def format_reward(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                  **kwargs: Any) -> list[float | None]:
    """1.0 when the completion reasons first and then states a final answer, else 0.0.

    Reasoning is one ``<think>...</think>`` block opening the completion, or (for providers
    that return it apart, such as DeepSeek's ``reasoning_content``) a separate reasoning
    field with no think tags left in the content. The rest must match
    ``reward_options.answer_line`` (default: ``\\boxed{}``, ``Answer:``, ``The answer is``,
    ``#### N`` or ``<answer>...</answer>``). ``require_think=False`` checks the answer only.

    >>> format_reward(["<think>\\n6*7\\n</think>\\nThe answer is 42."])
    [1.0]
    """
    pattern = re.compile(reward_options.answer_line, re.I | re.M | re.S)
    return [_format(c, pattern, reward_options.require_think) for c in completions]


def _format(completion: Any, pattern: re.Pattern[str], require_think: bool) -> float:
    text, reasoning = completion_parts(completion)
    text = text[-_MAX_CHARS:] if len(text) > _MAX_CHARS else text
    lowered = text.lower()
    opens, closes = lowered.count("<think>"), lowered.count("</think>")
    if reasoning and reasoning.strip() and not opens and not closes:
        thought, final = reasoning, text
    elif closes == 1 and opens <= 1:
        cut = lowered.index("</think>")
        before, final = text[:cut], text[cut + len("</think>"):]
        if opens:  # one block that opens the completion
            start = before.lower().find("<think>")
            if start < 0 or before[:start].strip():
                return 0.0
            thought = before[start + len("<think>"):]
        else:  # the chat template opened the block in the prompt (R1, Qwen3)
            thought = before
    elif not opens and not closes and not require_think:
        thought, final = "", text
    else:
        return 0.0
    if require_think and not thought.strip():
        return 0.0
    return 1.0 if final.strip() and pattern.search(final) else 0.0


async def accuracy_reward_async(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                                **kwargs: Any) -> list[float | None]:
    """:func:`accuracy_reward` for async trainers (the checks run in a worker thread)."""
    import asyncio

    return await asyncio.to_thread(lambda: accuracy_reward(
        completions, reward_options=reward_options, **kwargs))


async def format_reward_async(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                              **kwargs: Any) -> list[float | None]:
    """:func:`format_reward` for async trainers."""
    return format_reward(completions, reward_options=reward_options, **kwargs)
