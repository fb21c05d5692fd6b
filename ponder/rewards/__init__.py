"""ponder's checks as reinforcement-learning rewards, in TRL's calling convention.

Every reward is ``fn(completions, **kwargs) -> list[float | None]``: ``completions`` are
strings or conversational message lists, and each dataset column arrives as a keyword list
with one value per completion (TRL's ``GRPOTrainer`` also passes ``prompts``,
``completion_ids`` and ``trainer_state``; unused ones are ignored). ``None`` means "nothing to
check against" and is left out of the mean by TRL.

=============================  =====================================================
reward                         columns it reads (rename with :func:`with_options`)
=============================  =====================================================
``accuracy_reward``            ``answer`` or ``solution`` (reference), ``kind``, ``choices``
``format_reward``              none: ``<think>`` reasoning (or a separate reasoning field)
                               then a final-answer line
``code_reward``                ``test``, ``entry_point``, ``prompts``
``program_agreement_reward``   ``program`` (default: the completion's own code block)
=============================  =====================================================

Each has an ``*_async`` twin for async trainers; all are picklable (module functions, or
:class:`NamedReward` partials from :func:`with_options`) and never raise on what a model
wrote: an unreadable completion gets 0.0 (or ``None``) and the reason is logged on the
``ponder.rewards`` logger.

>>> from trl import GRPOTrainer                                        # doctest: +SKIP
>>> from ponder.rewards import accuracy_reward, format_reward
>>> trainer = GRPOTrainer(model=..., reward_funcs=[accuracy_reward, format_reward],
...                       train_dataset=gsm8k)                          # doctest: +SKIP

:func:`compute_score` is the same checks as verl's custom reward function.
"""

from __future__ import annotations

from typing import Any

from ponder.rewards.answer import (
    accuracy_reward,
    accuracy_reward_async,
    format_reward,
    format_reward_async,
)
from ponder.rewards.inputs import NamedReward, RewardOptions, with_options
from ponder.rewards.verl import compute_score

__all__ = [
    "NamedReward",
    "RewardOptions",
    "accuracy_reward",
    "accuracy_reward_async",
    "code_reward",
    "code_reward_async",
    "compute_score",
    "format_reward",
    "format_reward_async",
    "program_agreement_reward",
    "program_agreement_reward_async",
    "with_options",
]

_CODE = {"code_reward", "code_reward_async", "program_agreement_reward",
         "program_agreement_reward_async"}


def __getattr__(name: str) -> Any:
    """The code rewards load the sandbox and the grader only when first used."""
    if name in _CODE:
        from ponder.rewards import code

        return getattr(code, name)
    raise AttributeError(f"module 'ponder.rewards' has no attribute {name!r}")
